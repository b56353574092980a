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
