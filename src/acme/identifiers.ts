import { isIP } from 'node:net';
import { AcmeProblem } from './problems.js';
import type { ChallengeType, Identifier } from './types.js';

// Identifier rules: RFC 8555 §7.1.4 (dns, wildcards) and RFC 8738 (ip). The strings a client sent are
// kept as they were for echoing; these helpers give the normalised form used for every comparison.

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export interface NormalizedIdentifier {
  type: 'dns' | 'ip';
  /** dns: lower-case without a trailing dot or "*."; ip: canonical text form. */
  value: string;
  wildcard: boolean;
}

export function normalizeIdentifier(id: Identifier): NormalizedIdentifier {
  if (id.type === 'ip') return { type: 'ip', value: canonicalIp(id.value), wildcard: false };
  let value = id.value.toLowerCase();
  const wildcard = value.startsWith('*.');
  if (wildcard) value = value.slice(2);
  return { type: 'dns', value, wildcard };
}

/** Canonical text of an IP address: dotted quad for v4, RFC 5952 compressed lower-case for v6. */
export function canonicalIp(text: string): string {
  const v = isIP(text);
  if (v === 4) return text.split('.').map((o) => String(Number(o))).join('.');
  if (v === 6) {
    // node's isIP accepts scoped addresses ("fe80::1%eth0") that URL refuses; a zone has no meaning
    // in a certificate (RFC 8738 §3), so they are malformed rather than an internal error.
    try {
      return new URL(`http://[${text}]/`).hostname.slice(1, -1);
    } catch {
      throw new AcmeProblem('malformed', `"${text}" is not an IP address`);
    }
  }
  throw new AcmeProblem('malformed', `"${text}" is not an IP address`);
}

/** Key used to compare identifiers (and CSR names) regardless of case or address spelling. */
export const identifierKey = (id: Identifier): string => {
  const n = normalizeIdentifier(id);
  return `${n.type}:${n.wildcard ? '*.' : ''}${n.value}`;
};

/**
 * Checks one identifier of a newOrder request. Throws `rejectedIdentifier` / `unsupportedIdentifier`
 * / `malformed` problems carrying the identifier, so a compound problem can list them all.
 */
export function checkIdentifier(id: Identifier): void {
  const fail = (type: 'rejectedIdentifier' | 'malformed' | 'unsupportedIdentifier', detail: string) =>
    new AcmeProblem(type, detail, { identifier: { type: id.type, value: id.value } });
  if (id.type === 'ip') {
    // isIP accepts a zone index ("fe80::1%eth0"), which no certificate can carry (RFC 8738 §3).
    if (isIP(id.value) === 0 || id.value.includes('%')) throw fail('malformed', `"${id.value}" is not an IP address`);
    return;
  }
  if (id.type !== 'dns') throw fail('unsupportedIdentifier', `identifier type "${String(id.type)}" is not supported`);
  const value = id.value;
  if (value.length === 0 || value.length > 253) throw fail('rejectedIdentifier', 'a DNS name must be 1 to 253 characters long');
  if (isIP(value) !== 0) {
    // node acme-client sends addresses as dns identifiers (interop §3); RFC 8738 wants type "ip".
    throw fail('rejectedIdentifier', `"${value}" is an IP address: send it as an identifier of type "ip" (RFC 8738)`);
  }
  const lower = value.toLowerCase();
  const body = lower.startsWith('*.') ? lower.slice(2) : lower;
  if (body.includes('*')) throw fail('rejectedIdentifier', `"${value}": a wildcard is allowed only as the whole leftmost label`);
  if (body.endsWith('.')) throw fail('rejectedIdentifier', `"${value}": a trailing dot is not allowed`);
  const labels = body.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) throw fail('rejectedIdentifier', `"${value}" is not a valid DNS name`);
  }
  if (lower.startsWith('*.') && labels.length < 2) {
    throw fail('rejectedIdentifier', `"${value}": a wildcard needs at least two labels after "*."`);
  }
}

/** RFC 8555 §7.1.4 / RFC 8737 / RFC 8738: which challenges an identifier gets. */
export function challengeTypesFor(type: Identifier['type'], wildcard: boolean): ChallengeType[] {
  if (type === 'ip') return ['http-01', 'tls-alpn-01'];
  if (wildcard) return ['dns-01'];
  return ['http-01', 'dns-01', 'tls-alpn-01'];
}
