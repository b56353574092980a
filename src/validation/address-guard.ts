import { isIP } from 'node:net';
import type { AddressVerdict } from '../acme/address-policy.js';
import type { DnsResolver } from '../platform/dns.js';
import { addressLookupFailure, failure, type Deadline } from './outcome.js';
import type { ValidationIdentifier, ValidationOutcome, ValidationRecord } from './types.js';

// Where the validator may connect (issue 9 "safe validation"). Every connection — http-01, each
// redirect hop, tls-alpn-01 — gets its address from here: resolved once, checked against the address
// policy, and the caller connects to exactly that address (platform/net.ts only takes IP literals).
// There is no second lookup between the check and the connect, so a DNS answer that changes in
// between (DNS rebinding) cannot move the connection somewhere the policy forbids.

/** What the validators need of acme/address-policy.ts AddressPolicy. */
export interface AddressCheck {
  check(address: string): AddressVerdict;
}

export type AddressChoice = { ok: true; address: string } | { ok: false; outcome: ValidationOutcome };

export interface ChooseAddressArgs {
  /** An IP literal (without brackets) or a DNS name. */
  hostname: string;
  /** For the refusal detail: what the connection was for, e.g. the URL or "host:port (SNI ...)". */
  target: string;
  resolver: DnsResolver;
  policy: AddressCheck;
  deadline: Deadline;
  identifier: ValidationIdentifier;
  /** Filled in: resolvers, addressesResolved, addressUsed. */
  record: ValidationRecord;
}

/**
 * The address to connect to for `hostname`. An IP literal is used as it is; a name is resolved
 * through the injected resolver. Of several addresses the first allowed one is used, IPv4 first by
 * the resolver's contract (Boulder's VA drops reserved addresses from an answer the same way); the
 * refusal, when none is allowed, is a `connection` problem naming each address and the rule.
 */
export async function chooseAddress(args: ChooseAddressArgs): Promise<AddressChoice> {
  const { hostname, target, resolver, policy, deadline, identifier, record } = args;
  record.addressUsed = undefined;
  let candidates: string[];
  if (isIP(hostname)) {
    candidates = [hostname];
  } else {
    record.resolvers = resolver.serversFor(hostname);
    try {
      candidates = await deadline.race(resolver.resolveAddresses(hostname, { signal: deadline.signal }));
    } catch (err) {
      return { ok: false, outcome: addressLookupFailure(err, hostname, deadline, identifier, record) };
    }
    record.addressesResolved = candidates;
    candidates = candidates.filter((a) => isIP(a));
    if (candidates.length === 0) {
      return { ok: false, outcome: failure('dns', `DNS problem: no valid IP addresses found for ${hostname}`, identifier, record) };
    }
  }

  const refusals: string[] = [];
  for (const address of candidates) {
    const verdict = policy.check(address);
    if (verdict.allowed) {
      record.addressUsed = address;
      return { ok: true, address };
    }
    refusals.push(verdict.reason);
  }
  const detail = isIP(hostname)
    ? `Refusing to connect to ${target}: ${refusals[0]!}; the validation address policy does not allow it`
    : `Refusing to connect to ${target}: ${hostname} resolves only to addresses the validation address policy does not allow: ${refusals.join('; ')}`;
  return { ok: false, outcome: failure('connection', detail, identifier, record) };
}
