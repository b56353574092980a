import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Account, Order } from '../../src/acme/types.js';
import type { IssuedCertificate, NewJob, Store } from '../../src/store/types.js';
import { describeReplicaLimitsContract } from './store-contract-replicas-limits.js';

// The contract of a store shared by several gateway replicas (issue 12): two Store instances, each
// with its own connection pool, on one database, racing for the same rows. Every race is run a few
// rounds so that an interleaving that breaks it is likely to turn up. Only stores that replicas can
// share run it (PostgreSQL); SQLite has a single writer process.

export interface ReplicasUnderTest {
  stores: [Store, Store];
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const id = () => randomBytes(12).toString('base64url');
const job = (runAt = T0): NewJob => ({ id: id(), runAt, deadlineAt: runAt + 600_000 });
const csr = (n: number) => ({ der: Buffer.from([n]), spkiSha256: `key-${n}` });
const ROUNDS = 8;
const PROBLEM = { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'gave up', status: 500 };

async function account(store: Store, thumbprint = id()): Promise<Account> {
  const { account } = await store.accounts.createOrGet({
    id: id(), directory: 'default', jwk: { kty: 'EC', x: thumbprint }, thumbprint, contact: [], termsOfServiceAgreed: true, eabKeyId: null, now: at(0),
  });
  return account;
}

async function order(store: Store, acct: Account, names: string[]): Promise<Order> {
  return store.orders.createWithAuthorizations({
    id: id(), directory: 'default', accountId: acct.id, identifiers: names.map((value) => ({ type: 'dns', value })),
    notBefore: null, notAfter: null, profile: null, replaces: null, replacesCertificateId: null, expires: at(86_400_000), now: at(0),
    authorizations: names.map((value) => ({
      id: id(), identifier: { type: 'dns', value }, wildcard: false, expires: at(86_400_000),
      challenges: (['http-01', 'dns-01'] as const).map((type) => ({ id: id(), type, token: id() })),
    })),
  });
}

async function challengeOf(store: Store, authzId: string, index = 0): Promise<string> {
  return (await store.authorizations.get(authzId))!.challenges[index]!.id;
}

async function readyOrder(store: Store): Promise<Order> {
  const o = await order(store, await account(store), [`${id().toLowerCase().replace(/[^a-z0-9]/g, 'x')}.example.com`]);
  const ch = await challengeOf(store, o.authzIds[0]!);
  await store.challenges.start(ch, job(), at(1));
  await store.challenges.recordValidation({ challengeId: ch, valid: true, error: null, record: {}, now: at(2) });
  return (await store.orders.get(o.id))!;
}

function certificate(): IssuedCertificate {
  const serialHex = randomBytes(8).toString('hex');
  return {
    id: id(), serialHex, pcaSerial: serialHex, leafPem: 'leaf', fullchainPem: 'chain', spkiSha256: randomBytes(32).toString('hex'),
    akiB64: null, notBefore: at(0), notAfter: at(86_400_000),
  };
}

export function describeReplicaContract(name: string, make: () => Promise<ReplicasUnderTest>): void {
  describe(`Store replica contract: ${name} (two stores on one database)`, () => {
    let sut: ReplicasUnderTest;
    let a: Store;
    let b: Store;
    beforeEach(async () => {
      sut = await make();
      [a, b] = sut.stores;
    });
    afterEach(async () => sut.cleanup());

    it('two replicas finalizing one order: exactly one wins, with its CSR, and one issuance job', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const o = await readyOrder(a);
        const before = await a.jobs.countActive();
        const results = await Promise.all([a.orders.markProcessing(o.id, csr(1), job(), at(3)), b.orders.markProcessing(o.id, csr(2), job(), at(3))]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? 1 : 2;
        expect(await b.orders.getCsr(o.id)).toEqual(Buffer.from([winner]));
        expect(await a.jobs.countActive()).toBe(before + 1);
      }
    });

    it('completeIssuance on one replica and fail on the other: one settles the order, and the certificate is kept either way', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const o = await readyOrder(a);
        await a.orders.markProcessing(o.id, csr(1), job(), at(3));
        const cert = certificate();
        const [completed, failed] = await Promise.all([a.orders.completeIssuance(o.id, null, cert, at(4)), b.orders.fail(o.id, PROBLEM, at(4))]);
        expect(completed !== failed).toBe(true);
        const settled = (await b.orders.get(o.id))!;
        expect(settled.status).toBe(completed ? 'valid' : 'invalid');
        expect(settled.certificateId).toBe(completed ? cert.id : null);
        expect(await b.certificates.getBySerial(cert.serialHex)).not.toBeNull();
      }
    });

    it('an orphan recorded by one replica while the other completes the same serial: one row, attached to the order', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const o = await readyOrder(a);
        await a.orders.markProcessing(o.id, csr(1), job(), at(3));
        const cert = certificate();
        const [done] = await Promise.all([
          a.orders.completeIssuance(o.id, null, cert, at(4)),
          b.certificates.recordOrphan({ ...cert, id: id() }, 'default', o.id, at(4)),
        ]);
        expect(done).toBe(true);
        const settled = (await a.orders.get(o.id))!;
        const stored = (await a.certificates.getBySerial(cert.serialHex))!;
        expect(settled.certificateId).toBe(stored.id);
        expect(stored).toMatchObject({ orderId: o.id, accountId: o.accountId });
      }
    });

    it('the last two authorizations of an order validated at once on two replicas make it ready', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const o = await order(a, await account(a), [`x${round}.example.com`, `y${round}.example.com`]);
        const [c1, c2] = await Promise.all(o.authzIds.map((authz) => challengeOf(a, authz)));
        await a.challenges.start(c1!, job(), at(1));
        await b.challenges.start(c2!, job(), at(1));
        const results = await Promise.all([
          a.challenges.recordValidation({ challengeId: c1!, valid: true, error: null, record: {}, now: at(2) }),
          b.challenges.recordValidation({ challengeId: c2!, valid: true, error: null, record: {}, now: at(2) }),
        ]);
        expect(results).toEqual([true, true]);
        expect((await a.orders.get(o.id))!.status).toBe('ready');
      }
    });

    it('two challenges of one authorization started at once on two replicas: only one starts', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const o = await order(a, await account(a), [`s${round}.example.com`]);
        const [c1, c2] = await Promise.all([challengeOf(a, o.authzIds[0]!, 0), challengeOf(a, o.authzIds[0]!, 1)]);
        const results = await Promise.all([a.challenges.start(c1, job(), at(1)), b.challenges.start(c2, job(), at(1))]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const statuses = (await a.authorizations.get(o.authzIds[0]!))!.challenges.map((c) => c.status).sort();
        expect(statuses).toEqual(['pending', 'processing']);
      }
    });

    it('two replicas claiming together never get the same job, and between them get every due job', async () => {
      const queued: string[] = [];
      for (let i = 0; i < 24; i++) {
        const j = job();
        await a.jobs.ensure('validate', `subject-${i}`, j, T0);
        queued.push(j.id);
      }
      const seen: string[] = [];
      for (let pass = 0; pass < 20 && seen.length < queued.length; pass++) {
        const [x, y] = await Promise.all([a.jobs.claimDue('replica-a', T0 + 1, 60_000, 3), b.jobs.claimDue('replica-b', T0 + 1, 60_000, 3)]);
        seen.push(...x.map((j) => j.id), ...y.map((j) => j.id));
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...queued].sort());
    });

    it('a nonce redeemed on one replica is refused on the other; redeemed on both at once, exactly one wins', async () => {
      expect(await a.nonces.redeem('n-1', T0 + 1000)).toBe(true);
      expect(await b.nonces.redeem('n-1', T0 + 1000)).toBe(false);
      for (let round = 0; round < ROUNDS; round++) {
        const results = await Promise.all([a.nonces.redeem(`race-${round}`, T0 + 1000), b.nonces.redeem(`race-${round}`, T0 + 1000)]);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });

    it('leases: a replica cannot renew a lease the other took over; a starting replica leaves the other’s live lease alone', async () => {
      const j = job();
      await a.jobs.ensure('issue', 'order-x', j, T0);
      await a.jobs.claimDue('replica-a', T0 + 1, 1_000, 1);
      expect(await b.jobs.requeueRunning(T0 + 500)).toBe(0); // replica b starts while a's lease holds
      expect(await b.jobs.claimDue('replica-b', T0 + 500, 1_000, 1)).toEqual([]);
      expect(await a.jobs.renewLease(j.id, 'replica-a', T0 + 3_000, T0 + 900)).toBe(true);
      expect(await b.jobs.claimDue('replica-b', T0 + 2_000, 1_000, 1)).toEqual([]);
      // Replica a stops renewing (it died): after the lease, b takes the job over, and a learns it lost it.
      expect((await b.jobs.claimDue('replica-b', T0 + 3_001, 1_000, 1)).map((x) => x.id)).toEqual([j.id]);
      expect(await a.jobs.renewLease(j.id, 'replica-a', T0 + 9_000, T0 + 3_002)).toBe(false);
      expect(await a.jobs.reschedule(j.id, 'replica-a', T0 + 9_000, 'late', T0 + 3_002)).toBe(false);
    });

    it('tryExclusive: while one replica holds a name, the other is turned away at once', async () => {
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const first = a.tryExclusive('pca-audit', async () => {
        entered();
        await gate;
        return 'a';
      });
      await inside;
      const started = Date.now();
      expect(await b.tryExclusive('pca-audit', async () => 'b')).toEqual({ ran: false });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await b.tryExclusive('something-else', async () => 'b')).toEqual({ ran: true, value: 'b' });
      release();
      expect(await first).toEqual({ ran: true, value: 'a' });
      expect(await b.tryExclusive('pca-audit', async () => 'b')).toEqual({ ran: true, value: 'b' });
    });

    it('settings.getOrCreate on two replicas at once: both get the one value stored', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const [x, y] = await Promise.all([a.settings.getOrCreate(`key-${round}`, () => 'from-a'), b.settings.getOrCreate(`key-${round}`, () => 'from-b')]);
        expect(x).toBe(y);
        expect(await a.settings.get(`key-${round}`)).toBe(x);
      }
    });

    it('settings.compareAndSet over one value on two replicas at once: exactly one replaces it', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const key = `cas-${round}`;
        const [x, y] = await Promise.all([a.settings.compareAndSet(key, null, 'from-a'), b.settings.compareAndSet(key, null, 'from-b')]);
        expect([x, y].filter(Boolean)).toHaveLength(1);
        const first = (await a.settings.get(key))!;
        const [p, q] = await Promise.all([a.settings.compareAndSet(key, first, 'a2'), b.settings.compareAndSet(key, first, 'b2')]);
        expect([p, q].filter(Boolean)).toHaveLength(1);
        expect(await b.settings.get(key)).toBe(p ? 'a2' : 'b2');
      }
    });

    it('one account key registered on two replicas at once: one account, the other gets it back', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const thumbprint = `tp-${round}`;
        const make = (s: Store) =>
          s.accounts.createOrGet({ id: id(), directory: 'default', jwk: { kty: 'EC' }, thumbprint, contact: [], termsOfServiceAgreed: true, eabKeyId: null, now: at(0) });
        const [x, y] = await Promise.all([make(a), make(b)]);
        expect([x.created, y.created].filter(Boolean)).toHaveLength(1);
        expect(x.account.id).toBe(y.account.id);
      }
    });

    it('one EAB key used by two new accounts on two replicas at once: it binds one of them', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const keyId = `eab-${round}`;
        await a.eabKeys.create({ id: keyId, directory: 'default', label: 'x', hmacKeyEnc: 'sealed', expiresAt: null, now: at(0) });
        const make = (s: Store) =>
          s.accounts
            .createOrGet({ id: id(), directory: 'default', jwk: { kty: 'EC' }, thumbprint: id(), contact: [], termsOfServiceAgreed: true, eabKeyId: keyId, now: at(1) })
            .then(() => 'created', () => 'refused');
        const outcomes = await Promise.all([make(a), make(b)]);
        expect(outcomes.sort()).toEqual(['created', 'refused']);
        expect((await a.eabKeys.get(keyId))!.boundAccountId).not.toBeNull();
      }
    });

    it('two accounts moving to one new key on two replicas at once: one moves, the other is told of the conflict', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const x = await account(a);
        const y = await account(a);
        const target = `new-${round}`;
        const [rx, ry] = await Promise.all([
          a.accounts.changeKey(x.id, x.thumbprint, { kty: 'EC', x: target }, target, at(1)),
          b.accounts.changeKey(y.id, y.thumbprint, { kty: 'EC', x: target }, target, at(1)),
        ]);
        const ok = [rx, ry].filter((r) => r.ok);
        expect(ok).toHaveLength(1);
        const loser = rx.ok ? ry : rx;
        expect(loser).toEqual({ ok: false, reason: 'conflict', conflictingAccountId: rx.ok ? x.id : y.id });
      }
    });

    it('the start-up sweep of two replicas at once queues one job per subject', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const results = await Promise.all([a.jobs.ensure('issue', `swept-${round}`, job(), T0), b.jobs.ensure('issue', `swept-${round}`, job(), T0)]);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
      expect(await a.jobs.countActive()).toBe(ROUNDS);
    });

    it('orders created on two replicas at once list in one order, without gaps or repeats', async () => {
      const acct = await account(a);
      const created = await Promise.all(Array.from({ length: 12 }, (_, i) => order(i % 2 ? a : b, acct, [`o${i}.example.com`])));
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<Store['orders']['listForAccount']>> = await (seen.length % 2 ? a : b).orders.listForAccount(acct.id, cursor, 5);
        seen.push(...page.orderIds);
        cursor = page.next;
      } while (cursor);
      expect([...seen].sort()).toEqual(created.map((o) => o.id).sort());
      expect(new Set(seen).size).toBe(12);
    });

    // Rate limits raced by two replicas (issue 9): store-contract-replicas-limits.ts.
    describeReplicaLimitsContract(() => [a, b]);
  });
}
