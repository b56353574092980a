import { cidrContains, parseAddress, parseCidr, type Cidr } from './cidr.js';

// Where the validator may connect (issue 9 "safe validation"): checked on every resolved address of
// http-01, tls-alpn-01 and each redirect hop, and on IP identifiers at newOrder, so validation cannot
// be aimed at the gateway's own host, the cloud metadata service or other internal-only addresses.
// Private ranges stay allowed by default: that is where an internal ACME directory's services live.
//
// Rule: the most specific range that contains the address decides (longest prefix); between ranges
// of the same length the operator's deniedCidrs win, then allowedCidrs, then the trial mode, then
// the defaults.
// So `allowedCidrs: ["127.0.0.1/32"]` opens one loopback address inside the default-denied
// 127.0.0.0/8, and `deniedCidrs: ["10.0.0.0/8"]` with `allowedCidrs: ["10.20.0.0/16"]` allows only
// 10.20.x.x of 10/8.

interface Rule {
  cidr: Cidr;
  allow: boolean;
  /** Why, for the problem detail: "link-local (cloud metadata), denied by default". */
  why: string;
  /** Breaks a tie between ranges of the same length: the operator's deny, then their allow, then trial, then defaults. */
  rank: number;
}

/** Denied unless a more specific allowed range says otherwise. */
export const DEFAULT_DENIED_RANGES: ReadonlyArray<{ cidr: string; why: string }> = [
  { cidr: '0.0.0.0/8', why: 'unspecified ("this host")' },
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '169.254.0.0/16', why: 'link-local (cloud metadata)' },
  { cidr: '100.100.100.200/32', why: 'cloud metadata' },
  { cidr: '224.0.0.0/4', why: 'multicast' },
  { cidr: '255.255.255.255/32', why: 'broadcast' },
  { cidr: '::/128', why: 'unspecified' },
  { cidr: '::1/128', why: 'loopback' },
  { cidr: 'fe80::/10', why: 'link-local' },
  { cidr: 'fd00:ec2::254/128', why: 'cloud metadata' },
  { cidr: 'ff00::/8', why: 'multicast' },
];

/** With the embedded simulator (the trial mode) these stay reachable so `-d localhost` works. */
export const TRIAL_ALLOWED_RANGES: readonly string[] = ['127.0.0.1/32', '::1/128'];

export interface AddressPolicyOptions {
  /** validation.allowedCidrs: added to the default-allowed ranges. */
  allowedCidrs?: readonly string[];
  /** validation.deniedCidrs: added to the default-denied ranges. */
  deniedCidrs?: readonly string[];
  /** Trial mode (pca.kind simulator): allow 127.0.0.1 and ::1. */
  trialLoopback?: boolean;
}

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

export class AddressPolicy {
  private readonly rules: Rule[];

  /** Throws with the offending entry when a range does not parse (config validation reports it). */
  constructor(options: AddressPolicyOptions = {}) {
    this.rules = [
      ...DEFAULT_DENIED_RANGES.map((r) => ({ cidr: parseCidr(r.cidr), allow: false, why: `${r.why}, denied by default`, rank: 0 })),
      ...(options.trialLoopback ? TRIAL_ALLOWED_RANGES : []).map((c) => ({ cidr: parseCidr(c), allow: true, why: 'allowed in trial mode', rank: 1 })),
      ...(options.allowedCidrs ?? []).map((c) => ({ cidr: parseCidr(c), allow: true, why: 'validation.allowedCidrs', rank: 2 })),
      ...(options.deniedCidrs ?? []).map((c) => ({ cidr: parseCidr(c), allow: false, why: 'validation.deniedCidrs', rank: 3 })),
    ];
  }

  check(address: string): AddressVerdict {
    const parsed = parseAddress(address);
    if (!parsed) return { allowed: false, reason: `${address} is not an IP address` };
    let best: Rule | null = null;
    for (const rule of this.rules) {
      if (!cidrContains(rule.cidr, parsed)) continue;
      if (!best || rule.cidr.prefix > best.cidr.prefix || (rule.cidr.prefix === best.cidr.prefix && rule.rank > best.rank)) best = rule;
    }
    if (!best || best.allow) return { allowed: true };
    return { allowed: false, reason: `${address} is in ${best.cidr.text} (${best.why})` };
  }

  /** One line for the start-up log: what is reachable beyond the defaults. */
  describe(): string {
    const extra = this.rules.filter((r) => r.rank > 0);
    return extra.length ? extra.map((r) => `${r.allow ? 'allow' : 'deny'} ${r.cidr.text} (${r.why})`).join('; ') : 'defaults only';
  }
}
