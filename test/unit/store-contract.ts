import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProblemDocument } from '../../src/acme/problems.js';
import { authorizationDeactivatedProblem } from '../../src/acme/status.js';
import type { Account, Order } from '../../src/acme/types.js';
import { PRUNE_BATCH } from '../../src/store/batches.js';
import type { IssuedCertificate, NewJob, NewOrder, Store } from '../../src/store/types.js';
import { describeLimitsContract } from './store-contract-limits.js';

// The contract every Store implementation must meet (ARCHITECTURE.md: "a Store contract suite that
// every Store implementation must pass"). It speaks only the Store interface, so the PostgreSQL store
// runs the same suite (store-contract.pg.test.ts), plus the two-store store-contract-replicas.ts.

export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const id = () => randomBytes(12).toString('base64url');
const job = (runAt = T0, deadlineAt = T0 + 600_000): NewJob => ({ id: id(), runAt, deadlineAt });
/** A finalize CSR as the store gets it: the DER and its key hash (fake bytes: the store does not parse it). */
const csr = (der: Buffer = Buffer.from([1]), spkiSha256 = 'csr-key-hash') => ({ der, spkiSha256 });
const PROBLEM: ProblemDocument = { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: 'wrong key authorization', status: 400 };

export interface StoreContractOptions {
  /**
   * The store is shared by several processes (replicas on one PostgreSQL database), so the intents
   * whose answer depends on who shares the store (Store.jobs.requeueRunning) are held to the shared
   * rule; otherwise to the single-writer one.
   */
  sharedByReplicas: boolean;
}

export function describeStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>, options: StoreContractOptions = { sharedByReplicas: false }): void {
  describe(`Store contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: Store;
    beforeEach(async () => {
      sut = await makeStore();
      store = sut.store;
    });
    afterEach(async () => {
      await sut.store.close();
      await sut.cleanup();
    });

    // ---------- fixtures (through the interface only) ----------

    async function account(opts: { directory?: string; thumbprint?: string; now?: number } = {}): Promise<Account> {
      const thumbprint = opts.thumbprint ?? id();
      const { account } = await store.accounts.createOrGet({
        id: id(),
        directory: opts.directory ?? 'default',
        jwk: { kty: 'EC', crv: 'P-256', x: thumbprint, y: 'y' },
        thumbprint,
        contact: ['mailto:a@example.com'],
        termsOfServiceAgreed: true,
        eabKeyId: null,
        now: at(opts.now ?? 0),
      });
      return account;
    }

    async function order(acct: Account, names: string[], opts: { now?: number; expires?: number } = {}): Promise<Order> {
      return store.orders.createWithAuthorizations(orderInput(acct, names, opts));
    }

    function orderInput(acct: Account, names: string[] | string, opts: { now?: number; expires?: number } = {}): NewOrder {
      if (typeof names === 'string') names = [names];
      const now = at(opts.now ?? 0);
      return {
        id: id(),
        directory: acct.directory,
        accountId: acct.id,
        identifiers: names.map((value) => ({ type: 'dns', value })),
        notBefore: null,
        notAfter: null,
        profile: null,
        replaces: null,
        replacesCertificateId: null,
        expires: at(opts.expires ?? 7 * 86_400_000),
        now,
        authorizations: names.map((value) => ({
          id: id(),
          identifier: { type: 'dns', value: value.toLowerCase().replace(/^\*\./, '') },
          wildcard: value.startsWith('*.'),
          expires: at(opts.expires ?? 7 * 86_400_000),
          challenges: (value.startsWith('*.') ? ['dns-01'] : ['http-01', 'dns-01']).map((type) => ({ id: id(), type: type as 'http-01', token: id() })),
        })),
      };
    }

    async function firstChallenge(authzId: string) {
      return (await store.authorizations.get(authzId))!.challenges[0]!;
    }

    /** Starts and records a validation of the first challenge of the authorization. */
    async function validate(authzId: string, valid: boolean, now = 1000): Promise<boolean> {
      const ch = await firstChallenge(authzId);
      expect(await store.challenges.start(ch.id, job(), at(now))).toBe(true);
      return store.challenges.recordValidation({ challengeId: ch.id, valid, error: valid ? null : PROBLEM, record: { hostname: 'x' }, now: at(now) });
    }

    async function readyOrder(names = ['ready.example.com']): Promise<Order> {
      const acct = await account();
      const o = await order(acct, names);
      for (const a of o.authzIds) await validate(a, true);
      expect((await store.orders.get(o.id))!.status).toBe('ready');
      return o;
    }

    function certificate(serialHex = randomBytes(8).toString('hex')): IssuedCertificate {
      return {
        id: id(),
        serialHex,
        pcaSerial: serialHex.match(/../g)!.join(':'),
        leafPem: '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n',
        fullchainPem: '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n',
        spkiSha256: randomBytes(32).toString('hex'),
        akiB64: 'aki',
        notBefore: at(0),
        notAfter: at(90 * 86_400_000),
      };
    }

    // ---------- settings ----------

    describe('settings', () => {
      it('getOrCreate: the first value wins and make() is not called again', async () => {
        expect(await store.settings.getOrCreate('k', () => 'first')).toBe('first');
        let called = false;
        expect(
          await store.settings.getOrCreate('k', () => {
            called = true;
            return 'second';
          }),
        ).toBe('first');
        expect(called).toBe(false);
      });

      it('get / set: absent is null, set overwrites', async () => {
        expect(await store.settings.get('w')).toBeNull();
        await store.settings.set('w', '1');
        await store.settings.set('w', '2');
        expect(await store.settings.get('w')).toBe('2');
      });

      it('compareAndSet: writes only over the value it expects (null: only where absent)', async () => {
        expect(await store.settings.compareAndSet('c', null, 'one')).toBe(true);
        expect(await store.settings.compareAndSet('c', null, 'again')).toBe(false);
        expect(await store.settings.get('c')).toBe('one');
        expect(await store.settings.compareAndSet('c', 'stale', 'two')).toBe(false);
        expect(await store.settings.get('c')).toBe('one');
        expect(await store.settings.compareAndSet('c', 'one', 'two')).toBe(true);
        expect(await store.settings.get('c')).toBe('two');
        expect(await store.settings.compareAndSet('absent', 'x', 'y')).toBe(false);
        expect(await store.settings.get('absent')).toBeNull();
      });
    });

    // ---------- nonces ----------

    describe('nonces', () => {
      it('a nonce redeems once', async () => {
        expect(await store.nonces.redeem('n1', T0 + 1000)).toBe(true);
        expect(await store.nonces.redeem('n1', T0 + 1000)).toBe(false);
        expect(await store.nonces.redeem('n2', T0 + 1000)).toBe(true);
      });

      it('prune removes only expired entries', async () => {
        await store.nonces.redeem('old', T0 + 10);
        await store.nonces.redeem('new', T0 + 10_000);
        expect(await store.nonces.prune(T0 + 100)).toBe(1);
        expect(await store.nonces.redeem('new', T0 + 10_000)).toBe(false);
      });

      it('prune works through more than one batch (issue 11: bounded deletes) and keeps what has not expired', async () => {
        const expired = 2 * PRUNE_BATCH + 17;
        for (let i = 0; i < expired; i++) await store.nonces.redeem(`gone-${i}`, T0 + 10);
        await store.nonces.redeem('kept', T0 + 10_000);
        expect(await store.nonces.prune(T0 + 100)).toBe(expired);
        expect(await store.nonces.redeem('gone-0', T0 + 10)).toBe(true); // pruned, so it inserts again
        expect(await store.nonces.redeem('kept', T0 + 10_000)).toBe(false);
      });

      it('concurrent redeems of one nonce: exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, () => store.nonces.redeem('race', T0 + 1000)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    // ---------- accounts ----------

    describe('accounts', () => {
      it('createOrGet is idempotent per (directory, key)', async () => {
        const first = await store.accounts.createOrGet({
          id: 'acct-1', directory: 'default', jwk: { kty: 'EC' }, thumbprint: 'tp', contact: ['mailto:a@b.c'], termsOfServiceAgreed: true, eabKeyId: null, now: at(0),
        });
        expect(first.created).toBe(true);
        expect(first.account).toMatchObject({ id: 'acct-1', status: 'valid', contact: ['mailto:a@b.c'], termsOfServiceAgreed: true, thumbprint: 'tp' });
        const second = await store.accounts.createOrGet({
          id: 'acct-2', directory: 'default', jwk: { kty: 'EC' }, thumbprint: 'tp', contact: [], termsOfServiceAgreed: false, eabKeyId: null, now: at(5),
        });
        expect(second.created).toBe(false);
        expect(second.account.id).toBe('acct-1');
        expect(await store.accounts.get('acct-2')).toBeNull();
        const elsewhere = await store.accounts.createOrGet({
          id: 'acct-3', directory: 'other', jwk: { kty: 'EC' }, thumbprint: 'tp', contact: [], termsOfServiceAgreed: false, eabKeyId: null, now: at(5),
        });
        expect(elsewhere.created).toBe(true);
        expect((await store.accounts.findByThumbprint('default', 'tp'))!.id).toBe('acct-1');
        expect((await store.accounts.findByThumbprint('other', 'tp'))!.id).toBe('acct-3');
        expect(await store.accounts.findByThumbprint('default', 'nope')).toBeNull();
      });

      it('round-trips the JWK and dates', async () => {
        const a = await account({ now: 1234 });
        const read = (await store.accounts.get(a.id))!;
        expect(read.jwk).toEqual(a.jwk);
        expect(read.createdAt.getTime()).toBe(T0 + 1234);
      });

      it('updateContact and deactivate are conditional on a valid account', async () => {
        const a = await account();
        expect((await store.accounts.updateContact(a.id, ['mailto:new@example.com'], at(1)))!.contact).toEqual(['mailto:new@example.com']);
        expect((await store.accounts.deactivate(a.id, at(2)))!.status).toBe('deactivated');
        expect(await store.accounts.deactivate(a.id, at(3))).toBeNull();
        expect(await store.accounts.updateContact(a.id, [], at(4))).toBeNull();
        expect((await store.accounts.get(a.id))!.contact).toEqual(['mailto:new@example.com']);
        expect(await store.accounts.deactivate('missing', at(5))).toBeNull();
      });

      it('changeKey: ok, then the old key no longer finds the account', async () => {
        const a = await account({ thumbprint: 'old' });
        const r = await store.accounts.changeKey(a.id, 'old', { kty: 'EC', x: 'new' }, 'new', at(1));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.account.thumbprint).toBe('new');
        expect((await store.accounts.findByThumbprint('default', 'new'))!.id).toBe(a.id);
        expect(await store.accounts.findByThumbprint('default', 'old')).toBeNull();
        expect((await store.accounts.get(a.id))!.jwk).toEqual({ kty: 'EC', x: 'new' });
      });

      it('changeKey: a key held by another account is a conflict naming it; nothing changes', async () => {
        const a = await account({ thumbprint: 'ka' });
        const b = await account({ thumbprint: 'kb' });
        const r = await store.accounts.changeKey(a.id, 'ka', { kty: 'EC' }, 'kb', at(1));
        expect(r).toEqual({ ok: false, reason: 'conflict', conflictingAccountId: b.id });
        expect((await store.accounts.get(a.id))!.thumbprint).toBe('ka');
      });

      it('changeKey: a stale old key, an unknown or a deactivated account → gone', async () => {
        const a = await account({ thumbprint: 'k1' });
        expect(await store.accounts.changeKey(a.id, 'not-k1', { kty: 'EC' }, 'k2', at(1))).toEqual({ ok: false, reason: 'gone' });
        expect(await store.accounts.changeKey('missing', 'k1', { kty: 'EC' }, 'k3', at(1))).toEqual({ ok: false, reason: 'gone' });
        await store.accounts.deactivate(a.id, at(2));
        expect(await store.accounts.changeKey(a.id, 'k1', { kty: 'EC' }, 'k4', at(3))).toEqual({ ok: false, reason: 'gone' });
        expect((await store.accounts.get(a.id))!.thumbprint).toBe('k1');
      });
    });

    // ---------- orders ----------

    describe('orders', () => {
      it('createWithAuthorizations stores the order, its authorizations in order, and their challenges', async () => {
        const a = await account();
        const o = await order(a, ['B.example.com', '*.a.example.com']);
        expect(o).toMatchObject({ status: 'pending', accountId: a.id, directory: 'default', certificateId: null, error: null, csrSpkiSha256: null });
        expect(o.identifiers).toEqual([{ type: 'dns', value: 'B.example.com' }, { type: 'dns', value: '*.a.example.com' }]);
        const authzs = await store.authorizations.getMany(o.authzIds);
        expect(authzs.map((x) => x.identifier.value)).toEqual(['b.example.com', 'a.example.com']);
        expect(authzs.map((x) => x.wildcard)).toEqual([false, true]);
        expect(authzs[1]!.challenges.map((c) => c.type)).toEqual(['dns-01']);
        // Challenges come back in the order they were offered (clients often take the first they support).
        expect(authzs[0]!.challenges.map((c) => c.type)).toEqual(['http-01', 'dns-01']);
        expect(authzs[0]!.challenges.every((c) => c.status === 'pending' && c.authzId === authzs[0]!.id)).toBe(true);
        expect(await store.orders.get(o.id)).toEqual(o);
        expect(await store.orders.get('missing')).toBeNull();
      });

      it('listForAccount pages through the account’s orders in creation order, without gaps or repeats', async () => {
        const a = await account();
        const b = await account();
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) ids.push((await order(a, [`o${i}.example.com`], { now: i < 4 ? 100 : 100 + i })).id); // 4 share a timestamp
        await order(b, ['other.example.com']);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await store.orders.listForAccount(a.id, cursor, 3);
          expect(page.orderIds.length).toBeLessThanOrEqual(3);
          seen.push(...page.orderIds);
          cursor = page.next;
          pages++;
        } while (cursor && pages < 10);
        expect(pages).toBe(3);
        expect(new Set(seen).size).toBe(7);
        expect(seen).toEqual(ids); // creation order, including the four made in the same millisecond
        const exact = await store.orders.listForAccount(a.id, null, 7);
        expect(exact.next).toBeNull();
        expect((await store.orders.listForAccount(b.id, null, 10)).orderIds).toHaveLength(1);
        expect(await store.orders.listForAccount('nobody', null, 10)).toEqual({ orderIds: [], next: null });
      });

      it('markProcessing: only a ready order moves, once, with its CSR and an issue job', async () => {
        const a = await account();
        const pending = await order(a, ['p.example.com']);
        expect(await store.orders.markProcessing(pending.id, csr(), job(), at(1))).toBe(false);
        expect((await store.orders.get(pending.id))!).toMatchObject({ status: 'pending', csrSpkiSha256: null });
        expect(await store.orders.getCsr(pending.id)).toBeNull();
        const o = await readyOrder();
        expect(o.csrSpkiSha256).toBeNull();
        const active = await store.jobs.countActive();
        const der = Buffer.from([0x30, 0x82, 1, 2]);
        const keyHash = 'ab'.repeat(32);
        expect(await store.orders.markProcessing(o.id, csr(der, keyHash), job(), at(2))).toBe(true);
        expect(await store.orders.markProcessing(o.id, csr(Buffer.from([9]), 'cd'.repeat(32)), job(), at(3))).toBe(false);
        expect((await store.orders.get(o.id))!.status).toBe('processing');
        expect(await store.orders.getCsr(o.id)).toEqual(der);
        // The key hash is stored with the CSR, and a losing finalize overwrites neither.
        expect((await store.orders.get(o.id))!.csrSpkiSha256).toBe(keyHash);
        expect(await store.jobs.countActive()).toBe(active + 1);
        const claimed = await store.jobs.claimDue('w', T0 + 10, 1000, 10);
        expect(claimed.map((j) => [j.kind, j.subjectId])).toContainEqual(['issue', o.id]);
      });

      it('markProcessing twice at once: exactly one wins', async () => {
        const o = await readyOrder();
        const results = await Promise.all([1, 2, 3].map((n) => store.orders.markProcessing(o.id, csr(Buffer.from([n]), `key-${n}`), job(), at(n))));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true) + 1;
        expect(await store.orders.getCsr(o.id)).toEqual(Buffer.from([winner]));
        expect((await store.orders.get(o.id))!.csrSpkiSha256).toBe(`key-${winner}`);
        expect(await store.jobs.countActive()).toBe(1);
      });

      it('completeIssuance: processing → valid with the certificate, the job done; only once', async () => {
        const o = await readyOrder();
        const j = job();
        await store.orders.markProcessing(o.id, csr(), j, at(1));
        await store.issuance.recordAttempt({ id: 'att1', orderId: o.id, spkiSha256: 'spki', startedAt: T0 + 2 });
        const cert = certificate('0a0b0c');
        expect(await store.orders.completeIssuance(o.id, 'att1', cert, at(3))).toBe(true);
        const done = (await store.orders.get(o.id))!;
        expect(done.status).toBe('valid');
        expect(done.certificateId).toBe(cert.id);
        const stored = (await store.certificates.get(cert.id))!;
        expect(stored).toMatchObject({ orderId: o.id, accountId: o.accountId, serialHex: '0a0b0c', status: 'valid', fullchainPem: cert.fullchainPem });
        expect((await store.certificates.getBySerial('0a0b0c'))!.id).toBe(cert.id);
        expect((await store.jobs.get(j.id))!.state).toBe('done');
        expect((await store.issuance.attemptsForOrder(o.id))[0]).toMatchObject({ outcome: 'issued', pcaSerial: cert.pcaSerial, finishedAt: T0 + 3 });
        expect(await store.orders.completeIssuance(o.id, null, certificate(), at(4))).toBe(false);
        expect((await store.orders.get(o.id))!.certificateId).toBe(cert.id);
      });

      it('completeIssuance on an order that settled otherwise returns false but keeps the certificate', async () => {
        const o = await readyOrder();
        await store.orders.markProcessing(o.id, csr(), job(), at(1));
        expect(await store.orders.fail(o.id, PROBLEM, at(2))).toBe(true);
        const cert = certificate('abcdef');
        expect(await store.orders.completeIssuance(o.id, null, cert, at(3))).toBe(false);
        expect((await store.orders.get(o.id))!.status).toBe('invalid');
        expect(await store.certificates.getBySerial('abcdef')).not.toBeNull();
      });

      it('completeIssuance of a serial already kept as an orphan attaches that certificate to the order', async () => {
        const o = await readyOrder();
        await store.orders.markProcessing(o.id, csr(), job(), at(1));
        const orphan = certificate('0f0e0d');
        await store.certificates.recordOrphan(orphan, 'default', o.id, at(2));
        expect(await store.orders.completeIssuance(o.id, null, { ...certificate('0f0e0d'), id: id() }, at(3))).toBe(true);
        const done = (await store.orders.get(o.id))!;
        expect(done.certificateId).toBe(orphan.id);
        expect((await store.certificates.get(orphan.id))!).toMatchObject({ orderId: o.id, accountId: o.accountId });
      });

      it('issuance attempts: the latest for a key, and the earliest of all', async () => {
        expect(await store.issuance.earliestStartedAt()).toBeNull();
        const o = await readyOrder();
        await store.issuance.recordAttempt({ id: 'a1', orderId: o.id, spkiSha256: 'k1', startedAt: T0 + 5 });
        await store.issuance.recordAttempt({ id: 'a2', orderId: o.id, spkiSha256: 'k1', startedAt: T0 + 9 });
        await store.issuance.recordAttempt({ id: 'a3', orderId: o.id, spkiSha256: 'k2', startedAt: T0 + 7 });
        expect((await store.issuance.latestForKey('k1'))!.id).toBe('a2');
        expect(await store.issuance.latestForKey('nope')).toBeNull();
        expect(await store.issuance.earliestStartedAt()).toBe(T0 + 5);
      });

      it('failOpenAttempts: only the order’s pending and unknown attempts become failed, with the reason', async () => {
        const o = await readyOrder();
        const other = await readyOrder(['other.example.com']);
        for (const [attemptId, orderId] of [['p1', o.id], ['u1', o.id], ['i1', o.id], ['f1', o.id], ['x1', other.id]] as const) {
          await store.issuance.recordAttempt({ id: attemptId, orderId, spkiSha256: 's', startedAt: T0 });
        }
        await store.issuance.finishAttempt('u1', 'unknown', null, 'timed out', T0 + 1);
        await store.issuance.finishAttempt('i1', 'issued', '01:02', null, T0 + 1);
        await store.issuance.finishAttempt('f1', 'failed', null, 'refused', T0 + 1);
        expect(await store.issuance.failOpenAttempts(o.id, 'the order ended', T0 + 5)).toBe(2);
        const byId = new Map((await store.issuance.attemptsForOrder(o.id)).map((a) => [a.id, a]));
        expect(byId.get('p1')).toMatchObject({ outcome: 'failed', error: 'the order ended', finishedAt: T0 + 5 });
        expect(byId.get('u1')).toMatchObject({ outcome: 'failed', error: 'the order ended', finishedAt: T0 + 5 });
        expect(byId.get('i1')).toMatchObject({ outcome: 'issued', pcaSerial: '01:02', error: null, finishedAt: T0 + 1 });
        expect(byId.get('f1')).toMatchObject({ outcome: 'failed', error: 'refused', finishedAt: T0 + 1 });
        expect((await store.issuance.attemptsForOrder(other.id))[0]).toMatchObject({ outcome: 'pending', finishedAt: null });
        expect(await store.issuance.failOpenAttempts(o.id, 'again', T0 + 6)).toBe(0);
      });

      it('fail: pending, ready or processing → invalid with the problem; a settled order does not change', async () => {
        const a = await account();
        const p = await order(a, ['f1.example.com']);
        expect(await store.orders.fail(p.id, PROBLEM, at(1))).toBe(true);
        expect((await store.orders.get(p.id))!).toMatchObject({ status: 'invalid', error: PROBLEM });
        expect(await store.orders.fail(p.id, PROBLEM, at(2))).toBe(false);

        const o = await readyOrder();
        const j = job();
        await store.orders.markProcessing(o.id, csr(), j, at(1));
        await store.issuance.recordAttempt({ id: 'att2', orderId: o.id, spkiSha256: 's', startedAt: T0 });
        expect(await store.orders.fail(o.id, PROBLEM, at(2))).toBe(true);
        expect((await store.jobs.get(j.id))!.state).toBe('failed');
        // No hidden side effect: the attempts are the caller's to settle.
        expect((await store.issuance.attemptsForOrder(o.id))[0]!.outcome).toBe('pending');
        expect(await store.issuance.failOpenAttempts(o.id, PROBLEM.detail, T0 + 2)).toBe(1);
        expect((await store.issuance.attemptsForOrder(o.id))[0]!.outcome).toBe('failed');

        const v = await readyOrder();
        await store.orders.markProcessing(v.id, csr(), job(), at(1));
        await store.orders.completeIssuance(v.id, null, certificate(), at(2));
        expect(await store.orders.fail(v.id, PROBLEM, at(3))).toBe(false);
        expect((await store.orders.get(v.id))!.status).toBe('valid');
      });

      it('listProcessingWithoutLiveJob finds processing orders whose issue job ended', async () => {
        const o = await readyOrder();
        const j = job();
        await store.orders.markProcessing(o.id, csr(), j, at(1));
        expect(await store.orders.listProcessingWithoutLiveJob()).toEqual([]);
        await store.jobs.finish(j.id, 'failed', 'crashed', T0 + 2);
        expect(await store.orders.listProcessingWithoutLiveJob()).toEqual([o.id]);
        expect(await store.jobs.ensure('issue', o.id, job(), T0 + 3)).toBe(true);
        expect(await store.orders.listProcessingWithoutLiveJob()).toEqual([]);
      });
    });

    // ---------- authorizations and challenges ----------

    describe('challenges and authorizations', () => {
      it('start: pending → processing with a validate job, once', async () => {
        const a = await account();
        const o = await order(a, ['s.example.com']);
        const ch = await firstChallenge(o.authzIds[0]!);
        expect(await store.challenges.start(ch.id, job(), at(1))).toBe(true);
        expect(await store.challenges.start(ch.id, job(), at(2))).toBe(false);
        const read = (await store.challenges.get(ch.id))!;
        expect(read.challenge.status).toBe('processing');
        expect(read.authz.id).toBe(o.authzIds[0]);
        expect(read.authz.status).toBe('pending');
        expect(await store.jobs.countActive()).toBe(1);
        const [claimed] = await store.jobs.claimDue('w', T0 + 5, 1000, 10);
        expect(claimed).toMatchObject({ kind: 'validate', subjectId: ch.id, state: 'running', attempts: 1 });
      });

      it('start: a second challenge of an authorization cannot start while one is processing', async () => {
        const a = await account();
        const o = await order(a, ['two.example.com']);
        const [c1, c2] = (await store.authorizations.get(o.authzIds[0]!))!.challenges;
        expect(await store.challenges.start(c1!.id, job(), at(1))).toBe(true);
        expect(await store.challenges.start(c2!.id, job(), at(1))).toBe(false);
      });

      it('start: refused on an expired authorization', async () => {
        const a = await account();
        const o = await order(a, ['exp.example.com'], { expires: 1000 });
        const ch = await firstChallenge(o.authzIds[0]!);
        expect(await store.challenges.start(ch.id, job(), at(2000))).toBe(false);
      });

      it('concurrent starts of one challenge: exactly one wins', async () => {
        const a = await account();
        const o = await order(a, ['race.example.com']);
        const ch = await firstChallenge(o.authzIds[0]!);
        const results = await Promise.all([1, 2, 3, 4].map((n) => store.challenges.start(ch.id, job(), at(n))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.jobs.countActive()).toBe(1);
      });

      it('recordValidation makes the order ready in the same write only when all authorizations are valid', async () => {
        const a = await account();
        const o = await order(a, ['r1.example.com', 'r2.example.com']);
        expect(await validate(o.authzIds[0]!, true)).toBe(true);
        expect((await store.authorizations.get(o.authzIds[0]!))!.status).toBe('valid');
        expect((await store.orders.get(o.id))!.status).toBe('pending');
        expect(await validate(o.authzIds[1]!, true)).toBe(true);
        expect((await store.orders.get(o.id))!.status).toBe('ready');
        const ch = (await store.challenges.get((await firstChallenge(o.authzIds[1]!)).id))!.challenge;
        expect(ch.status).toBe('valid');
        expect(ch.validatedAt!.getTime()).toBe(T0 + 1000);
        expect(ch.error).toBeNull();
      });

      it('recordValidation invalid → challenge invalid with the problem, authorization and order invalid', async () => {
        const a = await account();
        const o = await order(a, ['bad.example.com', 'good.example.com']);
        expect(await validate(o.authzIds[0]!, false)).toBe(true);
        const ch = (await store.challenges.get((await firstChallenge(o.authzIds[0]!)).id))!.challenge;
        expect(ch).toMatchObject({ status: 'invalid', error: PROBLEM, validatedAt: null });
        expect((await store.authorizations.get(o.authzIds[0]!))!.status).toBe('invalid');
        expect((await store.orders.get(o.id))!).toMatchObject({ status: 'invalid', error: PROBLEM });
        // The other authorization is untouched.
        expect((await store.authorizations.get(o.authzIds[1]!))!.status).toBe('pending');
      });

      it('recordValidation twice → the second is refused and changes nothing; the job is closed', async () => {
        const a = await account();
        const o = await order(a, ['twice.example.com']);
        const ch = await firstChallenge(o.authzIds[0]!);
        const j = job();
        await store.challenges.start(ch.id, j, at(1));
        expect(await store.challenges.recordValidation({ challengeId: ch.id, valid: true, error: null, record: {}, now: at(2) })).toBe(true);
        expect((await store.jobs.get(j.id))!.state).toBe('done');
        expect(await store.challenges.recordValidation({ challengeId: ch.id, valid: false, error: PROBLEM, record: {}, now: at(3) })).toBe(false);
        expect((await store.challenges.get(ch.id))!.challenge.status).toBe('valid');
        expect((await store.orders.get(o.id))!.status).toBe('ready');
        expect(await store.challenges.recordValidation({ challengeId: 'missing', valid: true, error: null, record: {}, now: at(3) })).toBe(false);
      });

      it('recordValidation of a challenge never started → false', async () => {
        const a = await account();
        const o = await order(a, ['ns.example.com']);
        const ch = await firstChallenge(o.authzIds[0]!);
        expect(await store.challenges.recordValidation({ challengeId: ch.id, valid: true, error: null, record: {}, now: at(1) })).toBe(false);
        expect((await store.authorizations.get(o.authzIds[0]!))!.status).toBe('pending');
      });

      it('authorizations.deactivate: pending/valid → deactivated once; its pending or ready orders become invalid', async () => {
        const a = await account();
        const o = await order(a, ['d1.example.com', 'd2.example.com']);
        const done = await store.authorizations.deactivate(o.authzIds[1]!, at(1));
        expect(done!.status).toBe('deactivated');
        expect(await store.authorizations.deactivate(o.authzIds[1]!, at(2))).toBeNull();
        expect((await store.orders.get(o.id))!.status).toBe('invalid');
        expect((await store.orders.get(o.id))!.error).toEqual(authorizationDeactivatedProblem().toDocument());
        const r = await readyOrder(['d3.example.com']);
        expect((await store.authorizations.deactivate(r.authzIds[0]!, at(3)))!.status).toBe('deactivated');
        expect((await store.orders.get(r.id))!.status).toBe('invalid');
        expect((await store.orders.get(r.id))!.error).toEqual(authorizationDeactivatedProblem().toDocument());
        expect(await store.authorizations.deactivate('missing', at(4))).toBeNull();
      });

      it('authorizations.deactivate: an order already processing keeps its status and has no error', async () => {
        const o = await readyOrder(['d4.example.com']);
        await store.orders.markProcessing(o.id, csr(), job(), at(1));
        expect((await store.authorizations.deactivate(o.authzIds[0]!, at(2)))!.status).toBe('deactivated');
        expect((await store.orders.get(o.id))!).toMatchObject({ status: 'processing', error: null });
      });

      it('listProcessingWithoutLiveJob finds processing challenges whose job ended', async () => {
        const a = await account();
        const o = await order(a, ['lp.example.com']);
        const ch = await firstChallenge(o.authzIds[0]!);
        const j = job();
        await store.challenges.start(ch.id, j, at(1));
        expect(await store.challenges.listProcessingWithoutLiveJob()).toEqual([]);
        await store.jobs.finish(j.id, 'failed', 'lost', T0 + 2);
        expect(await store.challenges.listProcessingWithoutLiveJob()).toEqual([ch.id]);
      });
    });

    // ---------- certificates ----------

    describe('certificates', () => {
      it('revoke once; recordOrphan is idempotent by serial', async () => {
        const o = await readyOrder();
        await store.orders.markProcessing(o.id, csr(), job(), at(1));
        const cert = certificate('1234');
        await store.orders.completeIssuance(o.id, null, cert, at(2));
        expect(await store.certificates.revoke(cert.id, 4, at(3))).toBe(true);
        expect(await store.certificates.revoke(cert.id, 1, at(4))).toBe(false);
        expect((await store.certificates.get(cert.id))!).toMatchObject({ status: 'revoked', revocationReason: 4 });
        expect((await store.certificates.get(cert.id))!.revokedAt!.getTime()).toBe(T0 + 3);

        const orphan = certificate('5678');
        await store.certificates.recordOrphan(orphan, 'default', null, at(5));
        await store.certificates.recordOrphan({ ...orphan, id: id() }, 'default', null, at(6));
        expect((await store.certificates.getBySerial('5678'))!.id).toBe(orphan.id);
        expect(await store.certificates.get('missing')).toBeNull();
      });
    });

    // ---------- jobs ----------

    describe('jobs', () => {
      async function queuedJob(runAt = T0): Promise<string> {
        const a = await account();
        const o = await order(a, [`${id().toLowerCase().replace(/[^a-z0-9]/g, 'x')}.example.com`]);
        const ch = await firstChallenge(o.authzIds[0]!);
        const j = job(runAt);
        await store.challenges.start(ch.id, j, at(0));
        return j.id;
      }

      it('claimDue takes only due jobs, leases them, and another owner cannot take them while leased', async () => {
        const due = await queuedJob(T0);
        const later = await queuedJob(T0 + 10_000);
        const claimed = await store.jobs.claimDue('w1', T0 + 1, 5_000, 10);
        expect(claimed.map((j) => j.id)).toEqual([due]);
        expect(claimed[0]).toMatchObject({ state: 'running', attempts: 1 });
        expect(await store.jobs.claimDue('w2', T0 + 2, 5_000, 10)).toEqual([]);
        // After the lease expires another owner takes it over; the later job is due by then too.
        const taken = await store.jobs.claimDue('w2', T0 + 10_001, 5_000, 10);
        expect(taken.map((j) => j.id).sort()).toEqual([due, later].sort());
        expect(taken.find((j) => j.id === due)!.attempts).toBe(2);
      });

      it('pruneFinished deletes only finished jobs older than the cut-off', async () => {
        const old = await queuedJob();
        const live = await queuedJob();
        await store.jobs.finish(old, 'done', null, T0 + 100);
        expect(await store.jobs.pruneFinished(T0 + 50)).toBe(0);
        expect(await store.jobs.pruneFinished(T0 + 200)).toBe(1);
        expect(await store.jobs.get(old)).toBeNull();
        expect((await store.jobs.get(live))!.state).toBe('queued');
      });

      it('pruneFinished works through more than one batch (issue 11: bounded deletes)', async () => {
        const finished = 2 * PRUNE_BATCH + 17;
        for (let i = 0; i < finished; i++) {
          const j = job(T0);
          await store.jobs.ensure('issue', `prune-${i}`, j, T0);
          await store.jobs.finish(j.id, i % 2 ? 'done' : 'failed', null, T0 + 100);
        }
        const live = await queuedJob();
        const recent = job(T0);
        await store.jobs.ensure('issue', 'prune-recent', recent, T0);
        await store.jobs.finish(recent.id, 'done', null, T0 + 300);
        expect(await store.jobs.pruneFinished(T0 + 200)).toBe(finished);
        expect((await store.jobs.get(live))!.state).toBe('queued');
        expect((await store.jobs.get(recent.id))!.state).toBe('done');
      });

      it('claimDue with a kind takes only jobs of that kind (validation and issuance have their own slots)', async () => {
        const validate = await queuedJob();
        expect(await store.jobs.claimDue('w', T0 + 1, 1000, 10, 'issue')).toEqual([]);
        expect((await store.jobs.claimDue('w', T0 + 1, 1000, 10, 'validate')).map((j) => j.id)).toEqual([validate]);
      });

      it('claimDue honours the limit', async () => {
        for (let i = 0; i < 4; i++) await queuedJob();
        expect(await store.jobs.claimDue('w', T0 + 1, 1000, 3)).toHaveLength(3);
        expect(await store.jobs.claimDue('w', T0 + 1, 1000, 3)).toHaveLength(1);
      });

      it('reschedule: only the lease holder; the job waits until runAt', async () => {
        const j = await queuedJob();
        await store.jobs.claimDue('w1', T0 + 1, 5_000, 10);
        expect(await store.jobs.reschedule(j, 'w2', T0 + 1000, 'not mine', T0 + 2)).toBe(false);
        expect(await store.jobs.reschedule(j, 'w1', T0 + 1000, 'PCA busy', T0 + 2)).toBe(true);
        expect(await store.jobs.get(j)).toMatchObject({ state: 'queued', runAt: T0 + 1000, lastError: 'PCA busy' });
        expect(await store.jobs.claimDue('w1', T0 + 999, 5_000, 10)).toEqual([]);
        expect((await store.jobs.claimDue('w2', T0 + 1000, 5_000, 10)).map((x) => x.id)).toEqual([j]);
        expect(await store.jobs.reschedule(j, 'w1', T0 + 2000, 'lost lease', T0 + 1001)).toBe(false);
      });

      it('handBack: a job written leased that never started is queued again, due now, without the attempt its write counted', async () => {
        const a = await account();
        const o = await order(a, [`${id().toLowerCase().replace(/[^a-z0-9]/g, 'x')}.example.com`]);
        const ch = await firstChallenge(o.authzIds[0]!);
        const j = { ...job(T0), lease: { owner: 'w1', untilMs: T0 + 5_000 } };
        await store.challenges.start(ch.id, j, at(0));
        expect(await store.jobs.get(j.id)).toMatchObject({ state: 'running', attempts: 1 });
        expect(await store.jobs.handBack(j.id, 'w2', 'not mine', T0 + 2)).toBe(false);
        expect(await store.jobs.handBack(j.id, 'w1', 'the runner stopped before the job started', T0 + 2)).toBe(true);
        expect(await store.jobs.get(j.id)).toMatchObject({ state: 'queued', attempts: 0, runAt: T0 + 2, lastError: 'the runner stopped before the job started' });
        // Claimed again, it is on its first attempt; a second hand-back finds no lease to give back.
        expect((await store.jobs.claimDue('w2', T0 + 2, 5_000, 10)).find((x) => x.id === j.id)).toMatchObject({ attempts: 1 });
        expect(await store.jobs.handBack(j.id, 'w1', 'late', T0 + 3)).toBe(false);
      });

      it('finish ends a job; a finished job is never claimed and finish does not reopen it', async () => {
        const j = await queuedJob();
        await store.jobs.finish(j, 'done', null, T0 + 1);
        expect((await store.jobs.get(j))!.state).toBe('done');
        expect(await store.jobs.claimDue('w', T0 + 10, 1000, 10)).toEqual([]);
        await store.jobs.finish(j, 'failed', 'late', T0 + 2);
        expect((await store.jobs.get(j))!.state).toBe('done');
        expect(await store.jobs.countActive()).toBe(0);
      });

      it('releaseAll hands back only the owner’s running jobs', async () => {
        const j1 = await queuedJob();
        await store.jobs.claimDue('w1', T0 + 1, 60_000, 1);
        const j2 = await queuedJob();
        await store.jobs.claimDue('w2', T0 + 1, 60_000, 1);
        expect(await store.jobs.releaseAll('w1', T0 + 2)).toBe(1);
        expect((await store.jobs.get(j1))!.state).toBe('queued');
        expect((await store.jobs.get(j2))!.state).toBe('running');
        expect((await store.jobs.claimDue('w3', T0 + 3, 1000, 10)).map((j) => j.id)).toEqual([j1]);
      });

      // requeueRunning answers by who shares the store (Store.jobs.requeueRunning): each store is held
      // to its own rule, so exactly one of the two tests below is defined for it.
      if (!options.sharedByReplicas) it('requeueRunning (one writer process) queues every running job again, due now', async () => {
        const j1 = await queuedJob();
        const j2 = await queuedJob();
        await store.jobs.claimDue('dead', T0 + 1, 600_000, 10);
        expect(await store.jobs.requeueRunning(T0 + 5)).toBe(2);
        expect(await store.jobs.get(j1)).toMatchObject({ state: 'queued', runAt: T0 + 5 });
        expect((await store.jobs.claimDue('alive', T0 + 5, 1000, 10)).map((j) => j.id).sort()).toEqual([j1, j2].sort());
        expect(await store.jobs.requeueRunning(T0 + 6)).toBe(2);
      });

      if (options.sharedByReplicas) it('requeueRunning (shared by replicas) queues only jobs whose lease expired, due now', async () => {
        const gone = await queuedJob();
        await store.jobs.claimDue('dead', T0 + 1, 1_000, 10);
        const live = await queuedJob();
        await store.jobs.claimDue('alive', T0 + 1, 600_000, 10);
        // Within both leases, nothing is taken: either owner may still be running its job.
        expect(await store.jobs.requeueRunning(T0 + 5)).toBe(0);
        expect((await store.jobs.get(gone))!.state).toBe('running');
        expect(await store.jobs.requeueRunning(T0 + 2_000)).toBe(1);
        expect(await store.jobs.get(gone)).toMatchObject({ state: 'queued', runAt: T0 + 2_000 });
        expect((await store.jobs.get(live))!.state).toBe('running');
        expect(await store.jobs.renewLease(live, 'alive', T0 + 700_000, T0 + 2_001)).toBe(true);
        expect((await store.jobs.claimDue('new', T0 + 2_000, 1000, 10)).map((j) => j.id)).toEqual([gone]);
      });

      it('renewLease: only the holder, while it holds the lease; a renewed lease is not taken over', async () => {
        const j = await queuedJob();
        await store.jobs.claimDue('w1', T0 + 1, 1_000, 10); // leased until T0 + 1_001
        expect(await store.jobs.renewLease(j, 'w2', T0 + 5_000, T0 + 500)).toBe(false);
        expect(await store.jobs.renewLease(j, 'w1', T0 + 5_000, T0 + 500)).toBe(true);
        // Past the first lease, within the renewed one: nobody takes it.
        expect(await store.jobs.claimDue('w2', T0 + 2_000, 1_000, 10)).toEqual([]);
        const [taken] = await store.jobs.claimDue('w2', T0 + 5_001, 1_000, 10);
        expect(taken).toMatchObject({ id: j, attempts: 2 });
        // The first owner lost it, and learns so.
        expect(await store.jobs.renewLease(j, 'w1', T0 + 9_000, T0 + 5_002)).toBe(false);
        expect(await store.jobs.renewLease(j, 'w2', T0 + 9_000, T0 + 5_002)).toBe(true);
        await store.jobs.finish(j, 'done', null, T0 + 5_003);
        expect(await store.jobs.renewLease(j, 'w2', T0 + 9_500, T0 + 5_004)).toBe(false);
        expect((await store.jobs.get(j))!.state).toBe('done');
        await store.jobs.releaseAll('w2', T0 + 5_005);
        expect(await store.jobs.renewLease('missing', 'w2', T0 + 9_500, T0 + 5_006)).toBe(false);
      });

      it('renewLease after releaseAll or requeueRunning → false', async () => {
        const j = await queuedJob();
        await store.jobs.claimDue('w1', T0 + 1, 1_000, 10);
        await store.jobs.releaseAll('w1', T0 + 2);
        expect(await store.jobs.renewLease(j, 'w1', T0 + 5_000, T0 + 3)).toBe(false);
        await store.jobs.claimDue('w1', T0 + 4, 1_000, 10);
        await store.jobs.requeueRunning(T0 + 2_000); // the lease has expired: requeued by either rule
        expect(await store.jobs.renewLease(j, 'w1', T0 + 5_000, T0 + 2_001)).toBe(false);
        expect((await store.jobs.get(j))!.state).toBe('queued');
      });

      it('ensure queues a job only when none is live for the subject', async () => {
        expect(await store.jobs.ensure('issue', 'subject-1', job(), T0)).toBe(true);
        expect(await store.jobs.ensure('issue', 'subject-1', job(), T0)).toBe(false);
        expect(await store.jobs.ensure('validate', 'subject-1', job(), T0)).toBe(true);
        const [claimed] = await store.jobs.claimDue('w', T0, 1000, 1);
        await store.jobs.finish(claimed!.id, 'done', null, T0 + 1);
        expect(await store.jobs.ensure(claimed!.kind, 'subject-1', job(), T0 + 2)).toBe(true);
        expect(await store.jobs.get('missing')).toBeNull();
      });
    });

    describe('tryExclusive', () => {
      it('a second caller neither waits nor runs while the name is held; other names are free', async () => {
        let entered!: () => void;
        const inside = new Promise<void>((r) => (entered = r));
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const first = store.tryExclusive('audit', async () => {
          entered();
          await gate;
          return 'first';
        });
        await inside;
        let ran = false;
        expect(
          await store.tryExclusive('audit', async () => {
            ran = true;
          }),
        ).toEqual({ ran: false });
        expect(ran).toBe(false);
        expect(await store.tryExclusive('other', async () => 7)).toEqual({ ran: true, value: 7 });
        release();
        expect(await first).toEqual({ ran: true, value: 'first' });
        expect(await store.tryExclusive('audit', async () => 'again')).toEqual({ ran: true, value: 'again' });
      });

      it('the name is released when fn throws, and the error reaches the caller', async () => {
        await expect(
          store.tryExclusive('audit', async () => {
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await store.tryExclusive('audit', async () => 'after')).toEqual({ ran: true, value: 'after' });
      });

      it('fn can use the store while it holds the name', async () => {
        const r = await store.tryExclusive('audit', async () => {
          await store.settings.set('inside', 'yes');
          return store.settings.get('inside');
        });
        expect(r).toEqual({ ran: true, value: 'yes' });
      });
    });

    describe('PCA certificates learned (issue 10)', () => {
      const pem = (tag: string) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(tag).toString('base64')}\n-----END CERTIFICATE-----\n`;
      const rec = (serialNo: string, notBeforeMs: number, spkiSha256: string | null = 'k') => ({ serialNo, notBeforeMs, spkiSha256, certPem: pem(`leaf ${serialNo}`), caChainPems: [pem('inter'), pem('root')] });

      it('keeps what was learned per CA; getMany returns the serials on file, round-tripped', async () => {
        expect(await store.pcaCertificates.getMany('ca-1', [])).toEqual([]);
        await store.pcaCertificates.record('ca-1', [rec('0A:01', T0 + 1), rec('0A:02', T0 + 2, null)], T0 + 10);
        await store.pcaCertificates.record('ca-2', [rec('0A:01', T0 + 5, 'other')], T0 + 10);
        const got = await store.pcaCertificates.getMany('ca-1', ['0A:02', '0A:01', '0A:99']);
        expect(got.sort((a, b) => a.serialNo.localeCompare(b.serialNo))).toEqual([rec('0A:01', T0 + 1), rec('0A:02', T0 + 2, null)]);
        expect(await store.pcaCertificates.getMany('ca-2', ['0A:01'])).toEqual([rec('0A:01', T0 + 5, 'other')]);
        expect(await store.pcaCertificates.getMany('ca-3', ['0A:01'])).toEqual([]);
      });

      it('a serial already on file stays as it was (first writer wins); a chain may be empty', async () => {
        await store.pcaCertificates.record('ca', [{ ...rec('0B:01', T0), caChainPems: [] }], T0);
        await store.pcaCertificates.record('ca', [rec('0B:01', T0 + 99, 'changed'), rec('0B:02', T0)], T0 + 1);
        const got = await store.pcaCertificates.getMany('ca', ['0B:01', '0B:02']);
        expect(got.find((r) => r.serialNo === '0B:01')).toEqual({ ...rec('0B:01', T0), caChainPems: [] });
        expect(got).toHaveLength(2);
      });

      it('prune forgets only certificates whose notBefore is before the cut-off', async () => {
        await store.pcaCertificates.record('ca', [rec('0C:01', T0), rec('0C:02', T0 + 1_000), rec('0C:03', T0 + 2_000)], T0);
        expect(await store.pcaCertificates.prune(T0 + 1_000)).toBe(1);
        expect((await store.pcaCertificates.getMany('ca', ['0C:01', '0C:02', '0C:03'])).map((r) => r.serialNo).sort()).toEqual(['0C:02', '0C:03']);
      });

      it('getMany takes a whole page of serials at once', async () => {
        const many = Array.from({ length: 150 }, (_, i) => rec(`0D:${i.toString(16).padStart(4, '0')}`, T0 + i));
        await store.pcaCertificates.record('ca', many, T0);
        expect(await store.pcaCertificates.getMany('ca', many.map((r) => r.serialNo))).toHaveLength(150);
      });
    });

    describe('EAB keys and their policy (issue 9)', () => {
      const key = (over: Partial<Parameters<Store['eabKeys']['create']>[0]> = {}) => ({
        id: `kid-${id()}`,
        directory: 'default',
        label: 'team',
        hmacKeyEnc: 'sealed',
        expiresAt: null,
        now: at(0),
        ...over,
      });

      it('keeps a key with its narrowing rules, or with none; lists by directory', async () => {
        const narrow = key({ directory: 'payments', policy: { allowedSuffixes: ['payments.corp.test'], wildcards: false, allowedIpCidrs: [], maxValidityDays: 30 } });
        const plain = key({ now: at(1) });
        await store.eabKeys.create(narrow);
        await store.eabKeys.create(plain);
        expect((await store.eabKeys.get(narrow.id))!).toMatchObject({ directory: 'payments', policy: narrow.policy, boundAccountId: null });
        expect((await store.eabKeys.get(plain.id))!.policy).toBeNull();
        expect((await store.eabKeys.list('payments')).map((k) => k.id)).toEqual([narrow.id]);
        expect((await store.eabKeys.list('default')).map((k) => k.id)).toEqual([plain.id]);
        expect(await store.eabKeys.revoke(narrow.id, at(2))).toBe(true);
        expect(await store.eabKeys.revoke(narrow.id, at(3))).toBe(false);
        expect((await store.eabKeys.get(narrow.id))!.revokedAt).toEqual(at(2));
      });

      it('an order keeps the EAB key whose policy applied; without one it is null', async () => {
        const acct = await account();
        const plain = await order(acct, ['plain.example.com']);
        expect(plain.eabKeyId).toBeNull();
        const narrowed = await store.orders.createWithAuthorizations({ ...orderInput(acct, 'narrow.example.com'), eabKeyId: 'kid-1' });
        expect(narrowed.eabKeyId).toBe('kid-1');
        expect((await store.orders.get(narrowed.id))!.eabKeyId).toBe('kid-1');
      });

      it('latestForKey with a directory looks only at that directory\'s orders', async () => {
        const a = await order(await account({ directory: 'default' }), ['a.example.com']);
        const b = await order(await account({ directory: 'payments' }), ['b.example.com']);
        await store.issuance.recordAttempt({ id: 'in-default', orderId: a.id, spkiSha256: 'shared-key', startedAt: T0 + 1 });
        await store.issuance.recordAttempt({ id: 'in-payments', orderId: b.id, spkiSha256: 'shared-key', startedAt: T0 + 2 });
        expect((await store.issuance.latestForKey('shared-key'))!.id).toBe('in-payments');
        expect((await store.issuance.latestForKey('shared-key', 'default'))!.id).toBe('in-default');
        expect((await store.issuance.latestForKey('shared-key', 'payments'))!.id).toBe('in-payments');
        expect(await store.issuance.latestForKey('shared-key', 'platform')).toBeNull();
      });
    });

    // Rate limits and pre-authorized scopes (issue 9): store-contract-limits.ts.
    describeLimitsContract(() => store);

    it('ping answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
