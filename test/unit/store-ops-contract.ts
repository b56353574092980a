import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Account, Order } from '../../src/acme/types.js';
import type { NewAuditEvent } from '../../src/store/ops-types.js';
import type { IssuedCertificate, Store } from '../../src/store/types.js';
import type { StoreUnderTest } from './store-contract.js';

// The operations intents (store/ops-types.ts: audit trail, read model, notify jobs, pruning), held to
// one contract on SQLite (store-ops.test.ts) and PostgreSQL (store-ops.pg.test.ts): the SQL is shared
// (store/ops-queries.ts), so this is where a statement that only one of the two accepts shows up.

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const at = (ms: number) => new Date(T0 + ms);
const id = () => randomBytes(12).toString('base64url');

export function describeOpsContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`Store operations intents: ${name}`, () => {
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

    async function account(now = 0): Promise<Account> {
      const tp = id();
      return (await store.accounts.createOrGet({ id: id(), directory: 'default', jwk: { kty: 'EC', x: tp }, thumbprint: tp, contact: [], termsOfServiceAgreed: true, eabKeyId: null, now: at(now) })).account;
    }

    async function order(acct: Account, names: string[], now = 0): Promise<Order> {
      return store.orders.createWithAuthorizations({
        id: id(), directory: 'default', accountId: acct.id, identifiers: names.map((value) => ({ type: 'dns', value })),
        notBefore: null, notAfter: null, profile: null, replaces: null, replacesCertificateId: null, expires: at(now + 7 * DAY), now: at(now),
        authorizations: names.map((value) => ({ id: id(), identifier: { type: 'dns', value: value.toLowerCase() }, wildcard: false, expires: at(now + 7 * DAY), challenges: [{ id: id(), type: 'http-01', token: id() }] })),
      });
    }

    /** An order taken through validation and issuance to valid, with a certificate expiring at notAfterMs. */
    async function issued(acct: Account, names: string[], now: number, notAfterMs: number): Promise<{ order: Order; cert: IssuedCertificate }> {
      const o = await order(acct, names, now);
      for (const authzId of o.authzIds) {
        const ch = (await store.authorizations.get(authzId))!.challenges[0]!;
        await store.challenges.start(ch.id, { id: id(), runAt: T0, deadlineAt: T0 + DAY }, at(now));
        await store.challenges.recordValidation({ challengeId: ch.id, valid: true, error: null, record: { hostname: names[0] }, now: at(now + 1) });
      }
      expect(await store.orders.markProcessing(o.id, { der: Buffer.from([1]), spkiSha256: 'k' }, { id: id(), runAt: T0, deadlineAt: T0 + DAY }, at(now + 2))).toBe(true);
      const serialHex = randomBytes(8).toString('hex');
      const cert: IssuedCertificate = {
        id: id(), serialHex, pcaSerial: serialHex, leafPem: 'leaf', fullchainPem: 'chain', spkiSha256: 'k', akiB64: null, notBefore: at(now), notAfter: at(notAfterMs),
      };
      await store.issuance.recordAttempt({ id: `att-${o.id}`, orderId: o.id, spkiSha256: 'k', startedAt: T0 + now + 3 });
      expect(await store.orders.completeIssuance(o.id, `att-${o.id}`, cert, at(now + 4))).toBe(true);
      return { order: o, cert };
    }

    const event = (over: Partial<NewAuditEvent>): NewAuditEvent => ({
      id: id(), at: at(0), actor: 'account', actorName: null, clientIp: null, eabKeyId: null, action: 'account.created',
      directory: 'default', accountId: null, orderId: null, certificateId: null, serialHex: null, detail: {}, ...over,
    });

    it('audit: appended events come back oldest first, filtered and paged; an event keeps its actor, time and detail', async () => {
      await store.audit.append(event({ id: 'b', at: at(2000), action: 'certificate.issued', orderId: 'o1', detail: { names: ['a.example'] } }));
      await store.audit.append(event({ id: 'a', at: at(1000), actor: 'admin', actorName: 'ops', clientIp: '127.0.0.1' }));
      await store.audit.append(event({ id: 'c', at: at(2000), action: 'order.refused', orderId: 'o2' }));
      const all = await store.audit.list({ limit: 10 });
      expect(all.map((e) => e.id)).toEqual(['a', 'b', 'c']);
      expect(all[0]).toMatchObject({ actor: 'admin', actorName: 'ops', clientIp: '127.0.0.1', at: at(1000) });
      expect(all[1]!.detail).toEqual({ names: ['a.example'] });
      expect((await store.audit.list({ sinceMs: T0 + 1500, limit: 10 })).map((e) => e.id)).toEqual(['b', 'c']);
      expect((await store.audit.list({ action: 'order.refused', limit: 10 })).map((e) => e.id)).toEqual(['c']);
      expect((await store.audit.list({ orderId: 'o1', limit: 10 })).map((e) => e.id)).toEqual(['b']);
      expect((await store.audit.list({ after: { atMs: T0 + 2000, id: 'b' }, limit: 10 })).map((e) => e.id)).toEqual(['c']);
    });

    it('reports: accounts with their counts, orders newest first by status, account and name, authorization history', async () => {
      const a = await account(0);
      const b = await account(10);
      const { order: done } = await issued(a, ['Web.Example.com'], 100, 90 * DAY);
      const pending = await order(a, ['api.example.com', 'x_y.example.com'], 200);
      await order(b, ['other.example.com'], 300);
      const accounts = await store.reports.listAccounts({ limit: 10 });
      expect(accounts.map((x) => x.id)).toEqual([b.id, a.id]);
      expect(accounts[1]).toMatchObject({ orders: 2, certificates: 1 });
      expect((await store.reports.listOrders({ limit: 10 })).map((o) => o.id).slice(1)).toEqual([pending.id, done.id]);
      expect((await store.reports.listOrders({ status: 'valid', limit: 10 })).map((o) => o.id)).toEqual([done.id]);
      expect((await store.reports.listOrders({ accountId: b.id, limit: 10 })).length).toBe(1);
      expect((await store.reports.listOrders({ name: 'web.example.COM', limit: 10 })).map((o) => o.id)).toEqual([done.id]);
      // LIKE's wildcards in a name are literal.
      expect((await store.reports.listOrders({ name: 'x_y.example.com', limit: 10 })).map((o) => o.id)).toEqual([pending.id]);
      expect(await store.reports.listOrders({ name: 'xzy.example.com', limit: 10 })).toEqual([]);
      expect((await store.reports.listOrders({ limit: 10 })).find((o) => o.id === pending.id)!.authzIds).toEqual(pending.authzIds);
      const history = await store.reports.authorizationHistory(done.id);
      expect(history).toHaveLength(1);
      expect(history[0]).toMatchObject({ identifier: { value: 'web.example.com' }, status: 'valid' });
      expect(history[0]!.challenges[0]).toMatchObject({ type: 'http-01', status: 'valid', record: { hostname: 'Web.Example.com' } });
      expect(await store.reports.ordersOfAuthorization(done.authzIds[0]!)).toEqual([done.id]);
    });

    it('reports: certificates by account, name and expiry; issued since; daily counts; gauges', async () => {
      const a = await account();
      const b = await account();
      const soon = await issued(a, ['soon.example.com'], 0, 10 * DAY);
      const later = await issued(b, ['later.example.com'], DAY, 80 * DAY);
      const failed = await order(a, ['bad.example.com'], 2 * DAY);
      await store.orders.fail(failed.id, { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'PCA down', status: 500 }, at(2 * DAY));
      const all = await store.reports.listCertificates({ limit: 10 });
      expect(all.map((c) => c.id)).toEqual([later.cert.id, soon.cert.id]);
      expect(all[1]!.orderIdentifiers).toEqual([{ type: 'dns', value: 'soon.example.com' }]);
      expect((await store.reports.listCertificates({ accountId: b.id, limit: 10 })).map((c) => c.id)).toEqual([later.cert.id]);
      expect((await store.reports.listCertificates({ name: 'SOON.example.com', limit: 10 })).map((c) => c.id)).toEqual([soon.cert.id]);
      const expiring = await store.reports.listCertificates({ nowMs: T0 + 3 * DAY, expiringBeforeMs: T0 + 33 * DAY, limit: 10 });
      expect(expiring.map((c) => c.id)).toEqual([soon.cert.id]);
      expect(await store.reports.listCertificates({ nowMs: T0 + 11 * DAY, expiringBeforeMs: T0 + 41 * DAY, limit: 10 })).toEqual([]);
      expect((await store.reports.certificatesIssuedSince(T0 + DAY / 2)).map((c) => c.id)).toEqual([later.cert.id]);
      expect(await store.reports.dailyCounts(T0)).toEqual([
        { day: T0 / DAY, issued: 1, failed: 0 },
        { day: T0 / DAY + 1, issued: 1, failed: 0 },
        { day: T0 / DAY + 2, issued: 0, failed: 1 },
      ]);
      const g = await store.reports.gauges();
      expect(g.ordersByStatus).toEqual({ valid: 2, invalid: 1 });
      expect(g.jobs).toEqual([]);
    });

    it('notify jobs: queued once per subject, claimed by kind with their payload; pruning in bounded batches', async () => {
      const job = (subjectId: string) => ({ id: id(), subjectId, payload: '{"event":"x"}', runAt: T0, deadlineAt: T0 + DAY });
      expect(await store.notifications.enqueue(job('hook0:cert1'), T0)).toBe(true);
      expect(await store.notifications.enqueue(job('hook0:cert1'), T0)).toBe(false);
      expect(await store.notifications.enqueue(job('hook0:cert2'), T0)).toBe(true);
      const g = await store.reports.gauges();
      expect(g.jobs).toEqual([{ kind: 'notify', depth: 2, oldestQueuedRunAt: T0 }]);
      const claimed = await store.jobs.claimDue('me', T0, 60_000, 10, 'notify');
      expect(claimed.map((j) => j.payload)).toEqual(['{"event":"x"}', '{"event":"x"}']);
      expect(await store.jobs.claimDue('me', T0, 60_000, 10, 'issue')).toEqual([]);
      for (const j of claimed) await store.jobs.finish(j.id, 'done', null, T0 + 1);
      for (let i = 0; i < 5; i++) await store.nonces.redeem(`n${i}`, T0 + i);
      expect(await store.maintenance.countPrunable('nonces', T0 + 3)).toBe(3);
      expect(await store.maintenance.pruneBatch('nonces', T0 + 3, 2)).toBe(2);
      expect(await store.maintenance.pruneBatch('nonces', T0 + 3, 2)).toBe(1);
      expect(await store.maintenance.pruneBatch('nonces', T0 + 3, 2)).toBe(0);
      expect(await store.maintenance.countPrunable('jobs', T0 + 2)).toBe(2);
      expect(await store.maintenance.pruneBatch('jobs', T0 + 2, 10)).toBe(2);
    });
  });
}
