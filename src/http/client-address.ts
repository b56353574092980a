import { isIP } from 'node:net';
import type { Ctx, Env } from './respond.js';

// The client's IP address, for the per-address rate limit of newAccount (RFC 8555 §6.6). It is the
// address the TCP connection comes from (@hono/node-server hands the Node request over as
// c.env.incoming). Behind a reverse proxy every connection comes from the proxy, so an operator may
// opt in to the proxy's X-Forwarded-For (server.trustProxyHeaders). That is off by default, because
// without a proxy that sets the header any client writes its own and walks around the limit.

/**
 * The client address, or null when there is no socket (a request built in a test, not received).
 * With trustProxyHeaders, the last X-Forwarded-For entry: the one the nearest proxy appended (what
 * came before it is whatever the client sent, so it is never used).
 */
export function clientAddress<E extends Env>(c: Ctx<E>, trustProxyHeaders: boolean): string | null {
  if (trustProxyHeaders) {
    const forwarded = lastForwarded(c.req.header('x-forwarded-for'));
    if (forwarded) return forwarded;
  }
  const socketAddress = c.env?.incoming?.socket?.remoteAddress;
  return typeof socketAddress === 'string' && isIP(socketAddress) ? socketAddress : null;
}

/** The last address of an X-Forwarded-For value ("a, b, c" → "c"), a port or brackets removed; null when it is none. */
export function lastForwarded(value: string | undefined): string | null {
  if (!value) return null;
  const last = value.split(',').pop()!.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(last);
  const candidate = bracketed ? bracketed[1]! : /^[\d.]+:\d+$/.test(last) ? last.slice(0, last.lastIndexOf(':')) : last;
  return isIP(candidate) ? candidate : null;
}
