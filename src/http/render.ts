import type { Account, Authorization, Challenge, Order } from '../acme/types.js';
import type { Linker } from '../acme/links.js';

// RFC 8555 §7.1 wire shapes. The only place JSON field names of the protocol are written.

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function renderAccount(linker: Linker, a: Account) {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: a.termsOfServiceAgreed,
    orders: linker.url('orders', a.directory, a.id),
    createdAt: iso(a.createdAt),
  };
}

export function renderChallenge(linker: Linker, directory: string, c: Challenge) {
  return {
    type: c.type,
    url: linker.url('challenge', directory, c.id),
    status: c.status,
    token: c.token,
    ...(c.validatedAt ? { validated: iso(c.validatedAt) } : {}),
    // Never emit an empty "error" object (interop §3: uacme and acme.sh mis-handle it).
    ...(c.error ? { error: c.error } : {}),
  };
}

export function renderAuthorization(linker: Linker, a: Authorization, status: Authorization['status']) {
  return {
    identifier: { type: a.identifier.type, value: a.identifier.value },
    status,
    expires: iso(a.expires),
    challenges: a.challenges.map((c) => renderChallenge(linker, a.directory, c)),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}

export function renderOrder(linker: Linker, o: Order, status: Order['status']) {
  return {
    status,
    expires: iso(o.expires),
    identifiers: o.identifiers.map((i) => ({ type: i.type, value: i.value })),
    ...(o.notBefore ? { notBefore: iso(o.notBefore) } : {}),
    ...(o.notAfter ? { notAfter: iso(o.notAfter) } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.replaces ? { replaces: o.replaces } : {}),
    authorizations: o.authzIds.map((id) => linker.url('authz', o.directory, id)),
    finalize: linker.url('finalize', o.directory, o.id),
    ...(status === 'valid' && o.certificateId ? { certificate: linker.url('certificate', o.directory, o.certificateId) } : {}),
    ...(status === 'invalid' && o.error ? { error: o.error } : {}),
  };
}

/** What the directory's `meta` says (RFC 8555 §7.1.1); absent members are left out on the wire. */
export interface DirectoryMeta {
  externalAccountRequired: boolean;
  termsOfService: string | null;
  website: string | null;
  /** Profile name → description (draft-ietf-acme-profiles; clients decode map[string]string, interop item 2). */
  profiles: Record<string, string>;
}

export function renderDirectory(linker: Linker, directory: string, meta: DirectoryMeta) {
  return {
    newNonce: linker.url('newNonce', directory),
    newAccount: linker.url('newAccount', directory),
    newOrder: linker.url('newOrder', directory),
    revokeCert: linker.url('revokeCert', directory),
    keyChange: linker.url('keyChange', directory),
    renewalInfo: linker.url('renewalInfo', directory),
    meta: {
      externalAccountRequired: meta.externalAccountRequired,
      ...(meta.termsOfService ? { termsOfService: meta.termsOfService } : {}),
      ...(meta.website ? { website: meta.website } : {}),
      ...(Object.keys(meta.profiles).length ? { profiles: meta.profiles } : {}),
    },
  };
}

/** RFC 8555 §7.1.2.1: the orders list; paging goes in Link rel="next", not the body. */
export function renderOrdersList(linker: Linker, directory: string, orderIds: string[]) {
  return { orders: orderIds.map((id) => linker.url('order', directory, id)) };
}

/** RFC 9773 §4.2 renewal information. */
export function renderRenewalInfo(window: { start: Date; end: Date }) {
  return { suggestedWindow: { start: iso(window.start), end: iso(window.end) } };
}
