import { AcmeProblem } from '../acme/problems.js';
import { DnsError, type CaaRecord, type DnsResolver } from '../platform/dns.js';
import type { Logger } from '../platform/logger.js';
import { Deadline, DeadlineError, dnsKindText, errorText, quoteForDetail } from './outcome.js';
import type { ChallengeType, ValidationIdentifier } from './types.js';

// CAA (RFC 8659) with the RFC 8657 `accounturi` and `validationmethods` parameters: may this CA
// issue for a name? Checked when a challenge succeeds and again before signing when that was long
// ago (jobs/). Stateless like the challenge checkers: it reads DNS and returns a verdict.

/** What the operator configures (`caa:`); a plain object so each directory can have its own. */
export interface CaaSettings {
  /** The issuer domain names that identify this CA in `issue` / `issuewild` (RFC 8659 §4.2). */
  issuerDomains: readonly string[];
}

export interface CaaRequest {
  /** dns: the name without "*." (the store's form); ip identifiers are not subject to CAA. */
  identifier: ValidationIdentifier;
  /** Issuance for "*.<identifier>": `issuewild` applies (RFC 8659 §4.3). */
  wildcard: boolean;
  /** The ACME account URL, compared with `accounturi` (RFC 8657 §3). */
  accountUri: string;
  /**
   * The challenge that validated the name, compared with `validationmethods` (RFC 8657 §4); null
   * when no challenge did (an EAB key's pre-authorized scope, issue 9), which no method list allows.
   */
  method: ChallengeType | null;
  signal?: AbortSignal;
}

export type CaaOutcome =
  | { allowed: true; /** Where the relevant RRset was found; null when there is none. */ domain: string | null }
  | { allowed: false; problem: AcmeProblem };

export interface CaaChecker {
  /** Never rejects: a lookup failure is a refusal with a `dns` problem. */
  check(req: CaaRequest, settings: CaaSettings): Promise<CaaOutcome>;
}

export interface CaaCheckerOptions {
  resolver: DnsResolver;
  /** For the whole tree climb. Default 10 s. */
  timeoutMs?: number;
  logger?: Logger;
}

/** Tags this CA understands (RFC 8659 §4.2-4.4 and §5, RFC 9495 issuemail): a critical one of any other tag forbids issuance. */
const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone', 'issuemail']);
/** RFC 8659 §4.1: bit 0 of the flags octet (the value 128). */
const ISSUER_CRITICAL = 0x80;

export function createCaaChecker(opts: CaaCheckerOptions): CaaChecker {
  const { resolver, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;

  return {
    async check(req, settings) {
      const id = req.identifier;
      // RFC 8659 defines CAA for domain names only; an IP identifier has no CAA to consult.
      if (id.type !== 'dns') return { allowed: true, domain: null };
      const refuse = (type: 'caa' | 'dns', detail: string): CaaOutcome => ({
        allowed: false,
        problem: new AcmeProblem(type, detail, { identifier: { type: id.type, value: req.wildcard ? `*.${id.value}` : id.value } }),
      });
      const deadline = new Deadline(timeoutMs, req.signal);
      try {
        const found = await relevantRRset(id.value, resolver, deadline);
        if ('error' in found) return refuse('dns', found.error);
        if (!found.domain) return { allowed: true, domain: null };
        const verdict = evaluate(found.records, req, settings);
        logger?.debug({ identifier: id, domain: found.domain, verdict }, 'CAA checked');
        if (verdict === true) return { allowed: true, domain: found.domain };
        return refuse('caa', `CAA records for ${found.domain} forbid issuance for ${req.wildcard ? `*.${id.value}` : id.value}: ${verdict}`);
      } catch (err) {
        logger?.error({ err, identifier: id }, 'CAA check failed unexpectedly');
        return refuse('dns', `DNS problem: the CAA check for ${id.value} could not be completed: ${errorText(err)}`);
      } finally {
        deadline.dispose();
      }
    },
  };
}

type RRsetSearch = { domain: string; records: CaaRecord[] } | { domain: null } | { error: string };

/**
 * RFC 8659 §3: the relevant RRset is the CAA RRset of the name, else of its parent, and so on up to
 * (not including) the root. A name that does not exist or has no CAA records moves the search up;
 * any other failure (SERVFAIL, timeout, refusal) leaves the answer unknown, and then this CA does not
 * issue: the CA/Browser Forum Baseline Requirements §3.2.2.8 treat a lookup failure as permission
 * only under conditions (a failure outside the CA, retried, no DNSSEC chain) the gateway cannot show.
 */
async function relevantRRset(name: string, resolver: DnsResolver, deadline: Deadline): Promise<RRsetSearch> {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length; i++) {
    const domain = labels.slice(i).join('.');
    try {
      const records = await deadline.race(resolver.resolveCaa(domain, { signal: deadline.signal }));
      if (records.length > 0) return { domain, records };
    } catch (err) {
      if (err instanceof DnsError && (err.kind === 'nxdomain' || err.kind === 'nodata') && !deadline.cause) continue;
      if (deadline.cause === 'cancelled') return { error: `DNS problem: the CAA lookup for ${domain} was cancelled` };
      if (deadline.cause === 'timeout' || err instanceof DeadlineError) {
        return { error: `DNS problem: timeout after ${deadline.timeoutMs} ms looking up CAA for ${domain}` };
      }
      const why = err instanceof DnsError ? dnsKindText(err) : errorText(err);
      return { error: `DNS problem: ${why} looking up CAA for ${domain}; without an answer the CAA check cannot allow issuance` };
    }
  }
  return { domain: null };
}

/** True when the relevant RRset lets this CA issue; otherwise the reason, for the problem detail. */
function evaluate(records: CaaRecord[], req: CaaRequest, settings: CaaSettings): true | string {
  // RFC 8659 §4.1: a critical property this CA does not understand forbids issuance outright.
  const unknownCritical = records.find((r) => (r.flags & ISSUER_CRITICAL) !== 0 && !KNOWN_TAGS.has(r.tag.toLowerCase()));
  if (unknownCritical) return `the critical property ${quoteForDetail(unknownCritical.tag, 32)} is not understood by this CA (RFC 8659 §4.1)`;

  // RFC 8659 §4.3: for a wildcard, issuewild properties take precedence when there are any.
  const wild = records.filter((r) => r.tag.toLowerCase() === 'issuewild');
  const issue = records.filter((r) => r.tag.toLowerCase() === 'issue');
  const [tag, applicable] = req.wildcard && wild.length > 0 ? ['issuewild', wild] : ['issue', issue];
  // RFC 8659 §3: an RRset with no property that restricts issuance does not restrict it.
  if (applicable.length === 0) return true;

  const reasons: string[] = [];
  for (const record of applicable) {
    const why = authorizes(record.value, req, settings);
    if (why === true) return true;
    reasons.push(`${tag} ${quoteForDetail(record.value, 128)} ${why}`);
  }
  const shown = reasons.slice(0, 4).join('; ') + (reasons.length > 4 ? `; and ${reasons.length - 4} more` : '');
  return `no ${tag} property allows this CA (${settings.issuerDomains.join(', ')}): ${shown}`;
}

/** Whether one issue / issuewild value authorizes this request; otherwise why not. */
function authorizes(value: string, req: CaaRequest, settings: CaaSettings): true | string {
  const parsed = parseIssueValue(value);
  if (!parsed) return 'is malformed (RFC 8659 §4.2)';
  if (parsed.issuer === null) return 'names no CA: issuance is forbidden';
  if (!settings.issuerDomains.some((d) => d.toLowerCase() === parsed.issuer)) return 'names another CA';

  const accountUris = parsed.parameters.filter(([k]) => k === 'accounturi').map(([, v]) => v);
  // RFC 8657 §3: more than one accounturi makes the property unsatisfiable.
  if (accountUris.length > 1) return 'has more than one accounturi (RFC 8657 §3)';
  if (accountUris.length === 1 && accountUris[0] !== req.accountUri) return `is limited to another account (accounturi; this account is ${req.accountUri})`;

  const methods = parsed.parameters.filter(([k]) => k === 'validationmethods').map(([, v]) => v);
  if (methods.length > 1) return 'has more than one validationmethods (RFC 8657 §4)';
  if (methods.length === 1 && req.method === null) return 'limits the validation methods (validationmethods, RFC 8657 §4), and the name was pre-authorized without one';
  if (methods.length === 1 && !methods[0]!.split(',').map((m) => m.trim().toLowerCase()).includes(req.method!)) {
    return `does not list ${req.method} in validationmethods (RFC 8657 §4)`;
  }
  return true;
}

const LABEL = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const ISSUER_DOMAIN_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
/** tag *WSP "=" *WSP value, value = *(%x21-3A / %x3C-7E) (RFC 8659 §4.2). */
const PARAMETER = new RegExp(`^(${LABEL})[ \\t]*=[ \\t]*([\\x21-\\x3A\\x3C-\\x7E]*)$`);

/**
 * RFC 8659 §4.2 issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]].
 * Null when it does not parse; `issuer` null for the empty name (";": no CA may issue).
 * Parameter tags compare case-insensitively, values exactly.
 */
export function parseIssueValue(value: string): { issuer: string | null; parameters: Array<[string, string]> } | null {
  const semicolon = value.indexOf(';');
  const head = (semicolon < 0 ? value : value.slice(0, semicolon)).trim();
  if (head !== '' && !ISSUER_DOMAIN_NAME.test(head)) return null;
  const parameters: Array<[string, string]> = [];
  if (semicolon >= 0) {
    for (const part of value.slice(semicolon + 1).split(';')) {
      const text = part.trim();
      if (text === '') continue; // a trailing ";" is tolerated, as Boulder does
      const m = PARAMETER.exec(text);
      if (!m) return null;
      parameters.push([m[1]!.toLowerCase(), m[2]!]);
    }
  }
  return { issuer: head === '' ? null : head.toLowerCase(), parameters };
}
