import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Order } from '../../src/acme/types.js';
import { makeCsr, type CsrKeyType } from '../../src/pca/make-csr.js';
import type { Clock } from '../../src/platform/clock.js';
import type { Job, Store } from '../../src/store/types.js';

// Orders taken to `processing` through the Store's intents, for the tests of the issuance job and
// of reconciliation: an account, an order for one IP identifier validated over http-01, a fresh CSR
// at finalize, and its issuance job claimed.

const id = () => randomBytes(9).toString('base64url');

export interface ProcessingOrder {
  order: Order;
  /** SHA-256 of the CSR's key. */
  spki: string;
  csrPem: string;
  job: Job;
}

export async function processingOrder(store: Store, clock: Clock, opts: { deadlineMs?: number; directory?: string; keyType?: CsrKeyType } = {}): Promise<ProcessingOrder> {
  const now = clock.now();
  const directory = opts.directory ?? 'default';
  const { account } = await store.accounts.createOrGet({
    id: id(),
    directory,
    jwk: { kty: 'EC', crv: 'P-256', x: id(), y: 'y' },
    thumbprint: id(),
    contact: [],
    termsOfServiceAgreed: true,
    eabKeyId: null,
    now,
  });
  const challengeId = id();
  const order = await store.orders.createWithAuthorizations({
    id: id(),
    directory,
    accountId: account.id,
    identifiers: [{ type: 'ip', value: '127.0.0.1' }],
    notBefore: null,
    notAfter: null,
    profile: null,
    replaces: null,
    replacesCertificateId: null,
    expires: new Date(now.getTime() + 86_400_000),
    now,
    authorizations: [
      { id: id(), identifier: { type: 'ip', value: '127.0.0.1' }, wildcard: false, expires: new Date(now.getTime() + 86_400_000), challenges: [{ id: challengeId, type: 'http-01', token: id() }] },
    ],
  });
  expect(await store.challenges.start(challengeId, { id: id(), runAt: now.getTime(), deadlineAt: now.getTime() + 60_000 }, now)).toBe(true);
  expect(await store.challenges.recordValidation({ challengeId, valid: true, error: null, record: {}, now })).toBe(true);
  await store.jobs.claimDue('validator', now.getTime(), 60_000, 10).then((js) => Promise.all(js.map((j) => store.jobs.finish(j.id, 'done', null, now.getTime()))));
  const csr = await makeCsr(['127.0.0.1'], { commonName: null, ...(opts.keyType ? { keyType: opts.keyType } : {}) });
  const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  expect(await store.orders.markProcessing(order.id, { der, spkiSha256: csr.spkiSha256 }, { id: id(), runAt: now.getTime(), deadlineAt: now.getTime() + (opts.deadlineMs ?? 600_000) }, now)).toBe(true);
  const claimed = (await store.jobs.claimDue('test', now.getTime(), 60_000, 100)).find((j) => j.subjectId === order.id);
  return { order: (await store.orders.get(order.id))!, spki: csr.spkiSha256, csrPem: csr.csrPem, job: claimed! };
}
