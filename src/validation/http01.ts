import { isIP } from 'node:net';
import type { DnsResolver } from '../platform/dns.js';
import type { Logger } from '../platform/logger.js';
import { NetError, nodeDialer, type Dialer, type HttpGetResult } from '../platform/net.js';
import { chooseAddress, type AddressCheck } from './address-guard.js';
import { formatHostPort } from './ip.js';
import { Deadline, deadlineBoundValidator, errorText, failure, interruptedFailure, quoteForDetail, success } from './outcome.js';
import { describeBody, looksLikeKeyAuthorization, urlForDetail } from './response-detail.js';
import type { ChallengeValidator, ValidationOutcome, ValidationRecord, ValidationRequest } from './types.js';

// http-01 (RFC 8555 §8.3, RFC 8738 §3 for IP identifiers). Every hop — the first request and each
// redirect — goes through the address policy on the address it resolved to (address-guard.ts), and
// only the key authorization is ever quoted back from what a server sent (response-detail.ts).

export interface Http01ValidatorOptions {
  resolver: DnsResolver;
  /** Where the validator may connect; checked on the resolved address of every hop. */
  addressPolicy: AddressCheck;
  /** Config validation.httpPort; RFC 8555 §8.3 says 80, other values are for test set-ups. */
  port?: number;
  /** For the whole exchange: every lookup, connection and redirect. Default 10 s. */
  timeoutMs?: number;
  /** Default 8 KiB: a key authorization is well under 200 bytes. */
  maxBodyBytes?: number;
  /** Default 10. */
  maxRedirects?: number;
  /** The network; tests inject one that records every connect attempt. */
  dialer?: Pick<Dialer, 'httpGet'>;
  logger?: Logger;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'acme-pca-gateway validation (http-01)';

export function createHttp01Validator(opts: Http01ValidatorOptions): ChallengeValidator {
  const port = opts.port ?? 80;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBodyBytes = opts.maxBodyBytes ?? 8 * 1024;
  const maxRedirects = opts.maxRedirects ?? 10;
  const dialer = opts.dialer ?? nodeDialer;
  const { resolver, addressPolicy, logger } = opts;

  /**
   * Redirect targets we follow (RFC 8555 §8.3 and §10.2; Boulder does the same): http on the
   * validation port (80 outside test set-ups), or https on 443; nothing else.
   */
  function redirectRefusal(next: URL): string | undefined {
    if (next.protocol !== 'http:' && next.protocol !== 'https:') return `unsupported scheme ${quoteForDetail(next.protocol, 16)}, only http and https are followed`;
    const nextPort = next.port ? Number(next.port) : next.protocol === 'https:' ? 443 : 80;
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
      const shownUrl = urlForDetail(url);

      const choice = await chooseAddress({ hostname, target: shownUrl, resolver, policy: addressPolicy, deadline, identifier: id, record });
      if (!choice.ok) return choice.outcome;
      const address = choice.address;
      const target = isIP(hostname) ? shownUrl : `${shownUrl} (${formatHostPort(address, targetPort)})`;

      let res: HttpGetResult;
      try {
        res = await dialer.httpGet({ url, address, signal: deadline.signal, maxBodyBytes, headers: { 'User-Agent': USER_AGENT } });
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
          return failure('connection', `Invalid redirect from ${target}: its Location header (${res.location.length} characters) is not a URL`, id, record);
        }
        next.hash = '';
        const refusal = redirectRefusal(next);
        if (refusal) return failure('connection', `Refusing redirect from ${shownUrl} to ${urlForDetail(next)}: ${refusal}`, id, record);
        if (seen.length > maxRedirects) {
          const loop = seen.includes(next.href) ? ' (redirect loop)' : '';
          return failure('connection', `Too many redirects${loop}: more than ${maxRedirects} starting at ${seen[0]}; the last one was to ${urlForDetail(next)}`, id, record);
        }
        url = next;
        continue;
      }

      if (res.status !== 200) {
        return failure('unauthorized', `Invalid response from ${target}: HTTP ${res.status}, expected 200 with the key authorization`, id, record);
      }
      if (res.bodyTooLarge) {
        return failure(
          'incorrectResponse',
          `The response from ${target} is larger than ${maxBodyBytes} bytes (${describeBody(res, maxBodyBytes)}); expected just the key authorization`,
          id,
          record,
        );
      }
      // RFC 8555 §8.3: compare after removing trailing whitespace, nothing else.
      const body = res.body.toString('utf8').replace(/[ \t\r\n]+$/, '');
      if (body === req.keyAuthorization) return success(record);
      const got = looksLikeKeyAuthorization(body)
        ? quoteForDetail(body, 256)
        : `${describeBody(res, maxBodyBytes)} (not shown: only a response shaped like a key authorization is quoted)`;
      return failure(
        'incorrectResponse',
        `The key authorization served at ${target} does not match: expected ${quoteForDetail(req.keyAuthorization, 256)}, got ${got}`,
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
