import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IssuancePolicy } from '../acme/issuance-policy.js';
import type { Order } from '../acme/types.js';
import { systemClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { cryptoRandom } from '../platform/random.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Job, Store } from '../store/types.js';
import { IssuanceByDirectory, validityCapOf } from './issue-by-directory.js';
import type { JobHandler } from './runner.js';

// An order is issued by its own directory's issuance job; an order of a directory that is gone from
// the configuration ends invalid instead of waiting for a PCA that will never come back.

const rid = () => cryptoRandom.bytes(9).toString('base64url');

class Recording implements JobHandler {
  readonly runs: string[] = [];
  readonly giveUps: string[] = [];
  async run(job: Job) {
    this.runs.push(job.subjectId);
  }
  async giveUp(job: Job) {
    this.giveUps.push(job.subjectId);
  }
}

describe('IssuanceByDirectory', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'issue-by-dir-'));
    store = openSqliteStore({ path: join(dir, 'gw.sqlite') });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function processingOrder(directory: string, eabKeyId: string | null = null): Promise<{ order: Order; job: Job }> {
    const now = new Date();
    const challengeId = rid();
    const { account } = await store.accounts.createOrGet({ id: rid(), directory, jwk: { kty: 'EC' }, thumbprint: rid(), contact: [], termsOfServiceAgreed: true, eabKeyId: null, now });
    const order = await store.orders.createWithAuthorizations({
      id: rid(),
      directory,
      accountId: account.id,
      identifiers: [{ type: 'dns', value: 'a.test' }],
      notBefore: null,
      notAfter: null,
      profile: null,
      replaces: null,
      replacesCertificateId: null,
      eabKeyId,
      expires: new Date(now.getTime() + 3_600_000),
      authorizations: [{ id: rid(), identifier: { type: 'dns', value: 'a.test' }, wildcard: false, expires: new Date(now.getTime() + 3_600_000), challenges: [{ id: challengeId, type: 'http-01', token: rid() }] }],
      now,
    });
    // Its one authorization validated: the order is ready and can be finalized.
    expect(await store.challenges.start(challengeId, { id: rid(), runAt: now.getTime(), deadlineAt: now.getTime() + 60_000 }, now)).toBe(true);
    expect(await store.challenges.recordValidation({ challengeId, valid: true, error: null, record: {}, now })).toBe(true);
    const jobId = rid();
    expect(await store.orders.markProcessing(order.id, { der: Buffer.from([1]), spkiSha256: 'k' }, { id: jobId, runAt: now.getTime(), deadlineAt: now.getTime() + 60_000 }, now)).toBe(true);
    return { order, job: (await store.jobs.get(jobId))! };
  }

  it("hands each job to its order's directory; a missing order to the fallback", async () => {
    const main = new Recording();
    const payments = new Recording();
    const router = new IssuanceByDirectory({ store, clock: systemClock, logger: silentLogger(), handlers: new Map([['default', main], ['payments', payments]]), fallback: main });
    const a = await processingOrder('payments');
    const b = await processingOrder('default');
    await router.run(a.job);
    await router.giveUp(b.job, new Error('deadline'));
    await router.run({ ...a.job, subjectId: 'gone' });
    expect(payments.runs).toEqual([a.order.id]);
    expect(main.giveUps).toEqual([b.order.id]);
    expect(main.runs).toEqual(['gone']);
  });

  it('an order of a directory no longer configured ends invalid and its job failed', async () => {
    const main = new Recording();
    const router = new IssuanceByDirectory({ store, clock: systemClock, logger: silentLogger(), handlers: new Map([['default', main]]), fallback: main });
    const { order, job } = await processingOrder('retired');
    await router.run(job);
    expect(main.runs).toEqual([]);
    expect(await store.orders.get(order.id)).toMatchObject({ status: 'invalid', error: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'directory "retired" is no longer served by this gateway' } });
    expect(await store.jobs.get(job.id)).toMatchObject({ state: 'failed' });
  });
});

describe('validityCapOf', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cap-'));
    store = openSqliteStore({ path: join(dir, 'gw.sqlite') });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the directory's maxValidityDays, narrowed by the order's EAB key; a lost key fails rather than issue without it", async () => {
    const policy = new IssuancePolicy([{ source: 'directory "x"', rules: { maxValidityDays: 30 } }]);
    await store.eabKeys.create({ id: 'kid-7', directory: 'x', label: 'l', hmacKeyEnc: 's', expiresAt: null, policy: { maxValidityDays: 7 }, now: new Date() });
    await store.eabKeys.create({ id: 'kid-none', directory: 'x', label: 'l', hmacKeyEnc: 's', expiresAt: null, now: new Date() });
    const cap = validityCapOf(store, policy);
    const order = (eabKeyId: string | null) => ({ id: 'o', eabKeyId }) as Order;
    expect(await cap(order(null))).toBe(30);
    expect(await cap(order('kid-7'))).toBe(7);
    expect(await cap(order('kid-none'))).toBe(30);
    await expect(cap(order('kid-lost'))).rejects.toThrow(/kid-lost/);
    expect(await validityCapOf(store, new IssuancePolicy())(order(null))).toBeNull();
  });
});
