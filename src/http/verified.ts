import { createMiddleware } from 'hono/factory';
import type { Linker } from '../acme/links.js';
import { checkContentType } from '../auth/jws.js';
import type { VerifiedRequest } from '../auth/requests.js';
import type { RequestTarget, RequestVerifier } from '../auth/verifier.js';
import { nodeRequest, readJsonBody } from './body.js';
import type { Env } from './respond.js';

// The auth entry points as Hono middleware: each route names the signing mode it takes, and its
// handler finds the verified request of that mode, typed, in c.var.verified.

/** The Env a handler sees after one of these middlewares. */
export type Verified<R extends VerifiedRequest> = { Variables: { verified: R } };

export interface VerifiedMiddlewareDeps {
  verifier: RequestVerifier;
  linker: Linker;
  directory: string;
  maxBodyBytes: number;
}

export function verifiedRequests({ verifier, linker, directory, maxBodyBytes }: VerifiedMiddlewareDeps) {
  const by = <R extends VerifiedRequest>(entryPoint: (body: unknown, target: RequestTarget) => Promise<R>) =>
    createMiddleware<Verified<R> & { Bindings: Env['Bindings'] }>(async (c, next) => {
      // On a real socket, straight from the Node request: the Fetch Request's Headers and body stream
      // are built only when touched, and cost more than the rest of the request (http/body.ts).
      const incoming = nodeRequest(c.env?.incoming);
      checkContentType(incoming ? incoming.headers['content-type'] : c.req.header('content-type'));
      const body = await readJsonBody(c.req.raw, maxBodyBytes, incoming);
      // The JWS url is the whole request URL, query included (RFC 8555 §6.4; the orders list's "next" links carry one).
      const url = linker.requestUrl(c.req.path) + searchOf(c.req.url);
      c.set('verified', await entryPoint(body, { url, directory }));
      await next();
    });
  return {
    newAccount: by((body, target) => verifier.newAccount(body, target)),
    account: by((body, target) => verifier.account(body, target)),
    postAsGet: by((body, target) => verifier.postAsGet(body, target)),
    keyChange: by((body, target) => verifier.keyChange(body, target)),
    revoke: by((body, target) => verifier.revoke(body, target)),
  };
}

/** The query of a request URL as URL#search gives it; parsed only when there is one (most ACME requests have none). */
const searchOf = (url: string): string => (url.includes('?') ? new URL(url).search : '');
