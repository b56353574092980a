import { DnsError, type DnsResolver } from '../platform/dns.js';
import type { Logger } from '../platform/logger.js';
import { keyAuthorizationDigest } from './key-authorization.js';
import { Deadline, deadlineBoundValidator, dnsKindText, errorText, failure, interruptedFailure, quoteForDetail, success } from './outcome.js';
import type { ChallengeValidator, ValidationOutcome, ValidationRecord, ValidationRequest } from './types.js';

// dns-01 (RFC 8555 §8.4).

export interface Dns01ValidatorOptions {
  resolver: DnsResolver;
  /** A backstop over the resolver's own timeout, so a validation always ends. Default 30 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export function createDns01Validator(opts: Dns01ValidatorOptions): ChallengeValidator {
  const { resolver, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  async function run(req: ValidationRequest, deadline: Deadline): Promise<ValidationOutcome> {
    const id = req.identifier;
    // RFC 8738 §7: dns-01 must not be used for IP identifiers.
    if (id.type !== 'dns') return failure('unsupportedIdentifier', 'dns-01 cannot validate an IP identifier (RFC 8738 §7)', id, {});
    const name = `_acme-challenge.${id.value}`;
    const record: ValidationRecord = { hostname: id.value, resolvers: resolver.serversFor(name) };

    let found: string[];
    try {
      found = await deadline.race(resolver.resolveTxt(name, { signal: deadline.signal }));
    } catch (err) {
      if (deadline.cause === 'cancelled') return interruptedFailure(deadline, `looking up TXT for ${name}`, id, record);
      if (deadline.cause === 'timeout') return failure('dns', `DNS problem: timeout after ${timeoutMs} ms looking up TXT for ${name}`, id, record);
      // Boulder's wording: a name with no TXT at all is the client's to fix (unauthorized); a broken
      // lookup is a `dns` problem (RFC 8555 §6.7).
      if (err instanceof DnsError && (err.kind === 'nxdomain' || err.kind === 'nodata')) {
        return failure('unauthorized', `No TXT record found at ${name} (${dnsKindText(err)})`, id, record);
      }
      const why = err instanceof DnsError ? dnsKindText(err) : errorText(err);
      return failure('dns', `DNS problem: ${why} looking up TXT for ${name}`, id, record);
    }

    const expected = keyAuthorizationDigest(req.keyAuthorization);
    logger?.debug({ identifier: id, name, count: found.length }, 'dns-01 TXT records');
    if (found.includes(expected)) return success(record);
    if (found.length === 0) return failure('unauthorized', `No TXT record found at ${name}`, id, record);
    const shown = found.slice(0, 3).map((v) => quoteForDetail(v, 64)).join(', ');
    const more = found.length > 3 ? ` and ${found.length - 3} more` : '';
    return failure('unauthorized', `No TXT record matched at ${name}: expected ${quoteForDetail(expected)}, found ${shown}${more}`, id, record);
  }

  return deadlineBoundValidator('dns-01', timeoutMs, logger, run);
}
