import { cidrContains, parseAddress, parseCidr, type Cidr } from './cidr.js';
import type { KeyType } from './csr.js';
import { challengeTypesFor, normalizeIdentifier, type NormalizedIdentifier } from './identifiers.js';
import { AcmeProblem } from './problems.js';
import type { ChallengeType, Identifier } from './types.js';

// Issuance policy (issue 9): which names, addresses, challenges, keys and validity a directory — and
// each EAB key within it — may get. Pure: rules in, a decision or a problem out.
//
// A policy is a stack of layers, the directory's first and then the EAB key's; every layer must
// allow, so a key's rules can only narrow the directory's, never widen them. Within a layer an
// absent key restricts nothing (an empty policy allows what the gateway allows anyway); a present
// list is the whole of what is allowed ([] allows nothing).

export interface IssuanceRules {
  /** A DNS name must equal one of these or end in ".<suffix>" — unless it is in allowedNames. */
  allowedSuffixes?: readonly string[] | undefined;
  /** Exact DNS names (a wildcard spelled "*.x" names exactly that wildcard). */
  allowedNames?: readonly string[] | undefined;
  /**
   * Exact names ("*.x" is that wildcard), or ".x" for x and everything under it; a wildcard that
   * would cover a denied name is refused too.
   */
  deniedNames?: readonly string[] | undefined;
  /** IP identifiers (RFC 8738) must lie in one of these ranges. */
  allowedIpCidrs?: readonly string[] | undefined;
  /** false: no wildcard identifiers. */
  wildcards?: boolean | undefined;
  maxIdentifiers?: number | undefined;
  /** The challenge types newOrder offers (RFC 8555 §7.1.4 / §8). */
  allowedChallenges?: readonly ChallengeType[] | undefined;
  /** CSR key types accepted at finalize (acme/csr.ts names: the RSA size is part of the type). */
  keyTypes?: readonly KeyType[] | undefined;
  minRsaBits?: number | undefined;
  maxValidityDays?: number | undefined;
}

/** Rules with where they come from, for details that name the rule: `directory "payments"`, `EAB key kid-…`. */
export interface PolicyLayer {
  source: string;
  rules: IssuanceRules;
}

/** A limit together with the rule that sets it (for the `malformed` detail of a late notAfter). */
export interface NamedLimit {
  days: number;
  rule: string;
}

interface Layer extends PolicyLayer {
  cidrs: Cidr[] | null;
}

const RSA_BITS: Partial<Record<KeyType, number>> = { rsa2048: 2048, rsa3072: 3072, rsa4096: 4096 };
/** How many names a top-level detail spells out before "and N more". */
const DETAIL_NAMES = 5;

const quote = (id: Identifier) => `"${id.value}"`;
const list = (xs: readonly string[]) => (xs.length <= DETAIL_NAMES ? xs.join(', ') : `${xs.slice(0, DETAIL_NAMES).join(', ')}, …`);
/** `name` equals `zone` or lies below it. */
const within = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);
const parentOf = (name: string) => name.slice(name.indexOf('.') + 1);

export class IssuancePolicy {
  private readonly layers: Layer[];

  /** Throws when a CIDR does not parse (config and `eab create` check them first). */
  constructor(layers: readonly PolicyLayer[] = []) {
    this.layers = layers.map((l) => ({ ...l, cidrs: l.rules.allowedIpCidrs ? l.rules.allowedIpCidrs.map(parseCidr) : null }));
  }

  /** This policy with one more layer (an EAB key's rules): it can only refuse more. */
  narrowedBy(layer: PolicyLayer | null): IssuancePolicy {
    return layer ? new IssuancePolicy([...this.layers, layer]) : this;
  }

  /**
   * newOrder (RFC 8555 §7.4): refuses the order when it has more identifiers than allowed, or any
   * identifier a rule refuses — `rejectedIdentifier` with one subproblem per refused identifier,
   * each carrying it (RFC 8555 §6.7.1), and a top-level detail naming the rules. Identifiers are
   * the order's, already checked for syntax (acme/identifiers.ts checkIdentifier).
   */
  checkOrder(identifiers: readonly Identifier[]): void {
    for (const l of this.layers) {
      const max = l.rules.maxIdentifiers;
      if (max !== undefined && identifiers.length > max) {
        throw new AcmeProblem('rejectedIdentifier', `the order has ${identifiers.length} identifiers; at most ${max} are allowed in one order (maxIdentifiers of ${l.source})`);
      }
    }
    const refusals: Array<{ id: Identifier; rule: string; detail: string }> = [];
    for (const id of identifiers) {
      const refusal = this.refusalOf(id);
      if (refusal) refusals.push({ id, ...refusal });
    }
    if (refusals.length === 0) return;
    const detail =
      refusals.length === 1
        ? `the issuance policy refuses ${quote(refusals[0]!.id)}: ${refusals[0]!.detail}`
        : `the issuance policy refuses ${refusals.length} identifiers: ${list(refusals.map((r) => `${quote(r.id)} (${r.rule})`))}`;
    throw new AcmeProblem('rejectedIdentifier', detail, {
      subproblems: refusals.map((r) => new AcmeProblem('rejectedIdentifier', r.detail, { identifier: { type: r.id.type, value: r.id.value } })),
    });
  }

  /** The challenges an authorization offers: what the identifier can use (RFC 8555 §8), less what a layer does not allow. */
  challengesFor(type: Identifier['type'], wildcard: boolean): ChallengeType[] {
    return challengeTypesFor(type, wildcard).filter((t) => this.layers.every((l) => !l.rules.allowedChallenges || l.rules.allowedChallenges.includes(t)));
  }

  /** finalize: the CSR's key (acme/csr.ts keyTypeOf) against keyTypes and minRsaBits; badCSR naming the rule. */
  checkKey(keyType: KeyType): void {
    for (const l of this.layers) {
      const allowed = l.rules.keyTypes;
      if (allowed && !allowed.includes(keyType)) {
        throw new AcmeProblem('badCSR', `key type ${keyType} is not allowed (keyTypes of ${l.source}: ${allowed.join(', ')})`);
      }
      const bits = RSA_BITS[keyType];
      if (bits !== undefined && l.rules.minRsaBits !== undefined && bits < l.rules.minRsaBits) {
        throw new AcmeProblem('badCSR', `an RSA key of ${bits} bits is too short: at least ${l.rules.minRsaBits} (minRsaBits of ${l.source})`);
      }
    }
  }

  /** The shortest maxValidityDays of any layer, with the rule that sets it; null when none does. */
  maxValidity(): NamedLimit | null {
    let best: NamedLimit | null = null;
    for (const l of this.layers) {
      const days = l.rules.maxValidityDays;
      if (days !== undefined && (!best || days < best.days)) best = { days, rule: `maxValidityDays of ${l.source}` };
    }
    return best;
  }

  /** The first rule of any layer that refuses the identifier, or null. */
  private refusalOf(id: Identifier): { rule: string; detail: string } | null {
    const n = normalizeIdentifier(id);
    for (const l of this.layers) {
      const r = n.type === 'ip' ? ipRefusal(l, n) : dnsRefusal(l, n);
      if (r) return { rule: `${r.key} of ${l.source}`, detail: `${r.why} (${r.key} of ${l.source})` };
    }
    if (this.challengesFor(n.type, n.wildcard).length === 0) {
      // RFC 8555 §7.1.4: a wildcard is validated only with dns-01; RFC 8738 §7: an address not with dns-01.
      const needs = challengeTypesFor(n.type, n.wildcard);
      const rule = this.layers
        .filter((x) => x.rules.allowedChallenges)
        .map((x) => `allowedChallenges of ${x.source}: ${x.rules.allowedChallenges!.join(', ')}`)
        .join('; ');
      return { rule: rule.replace(/: [^;]*/g, ''), detail: `it can be validated only with ${needs.join(' or ')}, which the policy does not offer (${rule})` };
    }
    return null;
  }
}

type Refusal = { key: keyof IssuanceRules; why: string } | null;

function ipRefusal(l: Layer, n: NormalizedIdentifier): Refusal {
  if (!l.cidrs) return null;
  const address = parseAddress(n.value);
  if (address && l.cidrs.some((c) => cidrContains(c, address))) return null;
  return { key: 'allowedIpCidrs', why: l.cidrs.length ? `the address is in none of ${list(l.cidrs.map((c) => c.text))}` : 'IP identifiers are not allowed' };
}

function dnsRefusal(l: Layer, n: NormalizedIdentifier): Refusal {
  const { rules } = l;
  const spelled = n.wildcard ? `*.${n.value}` : n.value;
  if (n.wildcard && rules.wildcards === false) return { key: 'wildcards', why: 'wildcard identifiers are not allowed' };
  for (const entry of rules.deniedNames ?? []) {
    if (deniedCovers(entry, n)) return { key: 'deniedNames', why: entry === spelled ? 'the name is denied' : `the name is covered by the denied entry "${entry}"` };
  }
  if (rules.allowedSuffixes === undefined && rules.allowedNames === undefined) return null;
  if ((rules.allowedNames ?? []).includes(spelled)) return null;
  // A wildcard "*.B" is allowed by a suffix when every name it covers (L.B) is: when B is within it.
  if ((rules.allowedSuffixes ?? []).some((s) => within(n.value, s))) return null;
  if (rules.allowedSuffixes === undefined) return { key: 'allowedNames', why: 'the name is not one of the allowed names' };
  const suffixes = rules.allowedSuffixes.length ? `under none of ${list(rules.allowedSuffixes)}` : 'not allowed (no suffix is)';
  return { key: 'allowedSuffixes', why: `the name is ${suffixes}${rules.allowedNames?.length ? ' nor an allowed name' : ''}` };
}

/**
 * Whether a denied entry covers any name the identifier would put in a certificate. "*.B" covers
 * every L.B (RFC 6125 §6.4.3: one label), so it is refused when a denied name is one label below B
 * or a denied subtree holds B or sits one label below it.
 */
function deniedCovers(entry: string, n: NormalizedIdentifier): boolean {
  if (entry.startsWith('.')) {
    const zone = entry.slice(1);
    return within(n.value, zone) || (n.wildcard && parentOf(zone) === n.value);
  }
  if (entry.startsWith('*.')) return n.wildcard && n.value === entry.slice(2); // that wildcard exactly
  return n.wildcard ? parentOf(entry) === n.value : n.value === entry;
}

/** One line for `eab list` and the logs: only the keys that are set, "-" when none is. */
export function describeRules(rules: IssuanceRules | null | undefined): string {
  if (!rules) return '-';
  const parts: string[] = [];
  const add = (name: string, value: unknown) => {
    if (value === undefined) return;
    parts.push(`${name}=${Array.isArray(value) ? (value.length ? value.join(',') : '(none)') : String(value)}`);
  };
  add('allowedSuffixes', rules.allowedSuffixes);
  add('allowedNames', rules.allowedNames);
  add('deniedNames', rules.deniedNames);
  add('allowedIpCidrs', rules.allowedIpCidrs);
  add('wildcards', rules.wildcards);
  add('maxIdentifiers', rules.maxIdentifiers);
  add('allowedChallenges', rules.allowedChallenges);
  add('keyTypes', rules.keyTypes);
  add('minRsaBits', rules.minRsaBits);
  add('maxValidityDays', rules.maxValidityDays);
  return parts.length ? parts.join(' ') : '-';
}
