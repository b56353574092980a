import { isIP } from 'node:net';
import type { DnsResolver } from '../platform/dns.js';
import type { Logger } from '../platform/logger.js';
import { httpGet, NetError, type HttpGetResult } from '../platform/net.js';
import { formatHostPort } from './ip.js';
import { addressLookupFailure, Deadline, deadlineBoundValidator, errorText, failure, interruptedFailure, quoteForDetail, success } from './outcome.js';
import type { ChallengeValidator, ValidationOutcome, ValidationRecord, ValidationRequest } from './types.js';

// http-01 (RFC 8555 §8.3, RFC 8738 §3 for IP identifiers).

export interface Http01ValidatorOptions {
  resolver: DnsResolver;
  /** Config validation.httpPort; RFC 8555 §8.3 says 80, other values are for test set-ups. */
  port?: number;
  /** For the whole exchange: every lookup, connection and redirect. Default 10 s. */
  timeoutMs?: number;
  /** Default 8 KiB: a key authorization is well under 200 bytes. */
  maxBodyBytes?: number;
  /** Default 10. */
  maxRedirects?: number;
  logger?: Logger;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'acme-pca-gateway validation (http-01)';

export function createHttp01Validator(opts: Http01ValidatorOptions): ChallengeValidator {
  const port = opts.port ?? 80;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBodyBytes = opts.maxBodyBytes ?? 8 * 1024;
  const maxRedirects = opts.maxRedirects ?? 10;
  const { resolver, logger } = opts;

  /** Redirect targets we follow: http on the validation port, or https on 443; nothing else (Boulder does the same). */
  function redirectRefusal(next: URL): string | undefined {
    const nextPort = next.port ? Number(next.port) : next.protocol === 'https:' ? 443 : 80;
    if (next.protocol !== 'http:' && next.protocol !== 'https:') return `unsupported scheme ${quoteForDetail(next.protocol, 16)}`;
    if (next.username || next.password) return 'credentials in the redirect URL';
    if (!next.hostname) return 'no host in the redirect URL';
    if (next.protocol === 'http:' && nextPort !== port) return `port ${nextPort} (only ${port} for http)`;
    if (next.protocol === 'https:' && nextPort !== 443) return `port ${nextPort} (only 443 for https)`;
    return undefined;
  }

  async function run(req: ValidationRequest, deadline: Deadline): Promise<ValidationOutcome> {
    const id = req.identifier;
    const record: ValidationRecord = {};
    // RFC 8738 §3: an IP identifier is used as is, IPv6 in brackets in the URL and Host.
    const urlHost = id.type === 'ip' && isIP(id.value) === 6 ? `[${id.value}]` : id.value;
    let url: URL;
    try {
      url = new URL(`http://${urlHost}:${port}/.well-known/acme-challenge/${encodeURIComponent(req.token)}`);
    } catch {
      return failure('malformed', `Cannot build an http-01 URL for ${quoteForDetail(id.value)}`, id, record);
    }
    const seen: string[] = [];

    for (;;) {
      seen.push(url.href);
      const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const targetPort = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      Object.assign(record, { url: url.href, hostname, port: targetPort, addressesResolved: undefined, addressUsed: undefined });

      let address: string;
      if (isIP(hostname)) {
        address = hostname;
      } else {
        let addresses: string[];
        try {
          addresses = await deadline.race(resolver.resolveAddresses(hostname, { signal: deadline.signal }));
        } catch (err) {
          record.resolvers = resolver.servers;
          return addressLookupFailure(err, hostname, deadline, id, record);
        }
        record.resolvers = resolver.servers;
        record.addressesResolved = addresses;
        const first = addresses.find((a) => isIP(a));
        if (!first) return failure('dns', `DNS problem: no valid IP addresses found for ${hostname}`, id, record);
        address = first; // IPv4 first, by the resolver's contract
      }
      record.addressUsed = address;
      const target = isIP(hostname) ? url.href : `${url.href} (${formatHostPort(address, targetPort)})`;

      let res: HttpGetResult;
      try {
        res = await httpGet({ url, address, signal: deadline.signal, maxBodyBytes, headers: { 'User-Agent': USER_AGENT } });
      } catch (err) {
        if (deadline.cause) return interruptedFailure(deadline, `fetching ${target}`, id, record);
        return netFailure(err, target, id, record);
      }
      logger?.debug({ identifier: id, url: url.href, address, status: res.status }, 'http-01 response');

      if (REDIRECT_STATUSES.has(res.status) && res.location !== undefined) {
        let next: URL;
        try {
          next = new URL(res.location, url);
        } catch {
          return failure('connection', `Invalid redirect Location ${quoteForDetail(res.location)} from ${target}`, id, record);
        }
        next.hash = '';
        const refusal = redirectRefusal(next);
        if (refusal) return failure('connection', `Refusing redirect from ${url.href} to ${quoteForDetail(next.href, 256)}: ${refusal}`, id, record);
        if (seen.length > maxRedirects) {
          const loop = seen.includes(next.href) ? ' (redirect loop)' : '';
          return failure('connection', `Too many redirects${loop}: more than ${maxRedirects} starting at ${seen[0]}; the last one was to ${quoteForDetail(next.href, 256)}`, id, record);
        }
        url = next;
        continue;
      }

      if (res.status !== 200) {
        return failure('unauthorized', `Invalid response from ${target}: HTTP ${res.status}, expected 200 with the key authorization`, id, record);
      }
      if (res.bodyTooLarge) {
        return failure('incorrectResponse', `The response from ${target} is larger than ${maxBodyBytes} bytes; expected just the key authorization`, id, record);
      }
      // RFC 8555 §8.3: compare after removing trailing whitespace, nothing else.
      const body = res.body.toString('utf8').replace(/[ \t\r\n]+$/, '');
      if (body === req.keyAuthorization) return success(record);
      return failure(
        'incorrectResponse',
        `The key authorization served at ${target} does not match: expected ${quoteForDetail(req.keyAuthorization, 256)}, got ${quoteForDetail(body)}`,
        id,
        record,
      );
    }
  }

  return deadlineBoundValidator('http-01', timeoutMs, logger, run);
}

function netFailure(err: unknown, target: string, id: ValidationRequest['identifier'], record: ValidationRecord): ValidationOutcome {
  if (!(err instanceof NetError)) return failure('connection', `Fetching ${target} failed: ${errorText(err)}`, id, record);
  switch (err.kind) {
    case 'refused':
      return failure('connection', `Connection refused fetching ${target}`, id, record);
    case 'tls':
      return failure('tls', `${err.message} fetching ${target}`, id, record);
    case 'protocol':
      return failure('connection', `Malformed HTTP response from ${target}`, id, record);
    default:
      return failure('connection', `Fetching ${target} failed: ${err.message}`, id, record);
  }
}
