import { cidrContains, parseAddress, parseCidr, type Cidr } from './cidr.js';
import type { NormalizedIdentifier } from './identifiers.js';

// Pre-authorized scopes (issue 9 item 6): the names and addresses an EAB key's account may get
// without proving control, for hosts the validator cannot reach (behind NAT, build agents). The
// operator vouches for them when minting the key. RFC 8555 §7.4.1 leaves it to the server how an
// authorization comes to be valid ("the server may already have authorized the client"); here a new
// authorization for an identifier inside the account's key's scopes is created `valid` with no
// challenge. Pure: scopes in, the scope that covers an identifier (or none) out. Whether the
// directory uses them at all (`policy.preAuthorization`) and the issuance policy (which a scope
// never widens: it is applied first) are the order use case's business.

export interface PreauthorizedScopes {
  /** Exact DNS names; "*.x" is exactly that wildcard. */
  names?: readonly string[] | undefined;
  /** A DNS name equal to a suffix or below it; a wildcard "*.B" when B is. */
  suffixes?: readonly string[] | undefined;
  /** IP identifiers (RFC 8738) in one of these ranges. */
  cidrs?: readonly string[] | undefined;
}

const within = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);

export class ScopeMatcher {
  private readonly cidrs: Cidr[];

  /** Throws when a CIDR does not parse (`eab create` checks them first). */
  constructor(private readonly scopes: PreauthorizedScopes) {
    this.cidrs = (scopes.cidrs ?? []).map(parseCidr);
  }

  /**
   * The scope that covers the identifier, spelled for the record ("suffix build.corp.internal",
   * "name ci-7.corp.internal", "cidr 10.30.0.0/16"), or null. The same coverage as the issuance
   * policy's allowedSuffixes / allowedNames / allowedIpCidrs, so a scope reads like a policy entry.
   */
  match(n: NormalizedIdentifier): string | null {
    if (n.type === 'ip') {
      const address = parseAddress(n.value);
      const cidr = address ? this.cidrs.find((c) => cidrContains(c, address)) : undefined;
      return cidr ? `cidr ${cidr.text}` : null;
    }
    const spelled = n.wildcard ? `*.${n.value}` : n.value;
    if ((this.scopes.names ?? []).includes(spelled)) return `name ${spelled}`;
    // "*.B" is covered by a suffix when every name it stands for (L.B) is: when B is within it.
    const suffix = (this.scopes.suffixes ?? []).find((s) => within(n.value, s));
    return suffix !== undefined ? `suffix ${suffix}` : null;
  }
}

/** Whether the key carries any scope. */
export const hasScopes = (s: PreauthorizedScopes | null | undefined): s is PreauthorizedScopes =>
  !!s && ((s.names?.length ?? 0) > 0 || (s.suffixes?.length ?? 0) > 0 || (s.cidrs?.length ?? 0) > 0);

/** One line for `eab list` and the logs; "-" when none. */
export function describeScopes(s: PreauthorizedScopes | null | undefined): string {
  if (!hasScopes(s)) return '-';
  const parts: string[] = [];
  if (s.names?.length) parts.push(`names=${s.names.join(',')}`);
  if (s.suffixes?.length) parts.push(`suffixes=${s.suffixes.join(',')}`);
  if (s.cidrs?.length) parts.push(`cidrs=${s.cidrs.join(',')}`);
  return parts.join(' ');
}
