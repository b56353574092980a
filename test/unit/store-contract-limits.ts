import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Account, Order } from '../../src/acme/types.js';
import { PRUNE_BATCH } from '../../src/store/batches.js';
import { RateLimitExceeded, type CountedLimit, type NewAuthorization, type NewJob, type NewOrder, type Store } from '../../src/store/types.js';

// The Store contract for rate limits and pre-authorized scopes (issue 9 items 5 and 6), called from
// describeStoreContract (store-contract.ts), so it runs for every store: the windows and concurrent
// limits checked and counted inside the intents that create what they count, RateLimitExceeded with
// the time the limit frees up and nothing written, pruning, and the record of pre-authorizations.

const T0 = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const id = () => randomBytes(12).toString('base64url');
const HOUR = 3_600_000;
const job = (deadlineAt = T0 + 600_000): NewJob => ({ id: id(), runAt: T0, deadlineAt });
const PROBLEM = { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: 'wrong', status: 400 };

/** The RateLimitExceeded an intent threw (fails the test when it threw nothing or something else). */
async function refusal(p: Promise<unknown>): Promise<RateLimitExceeded> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RateLimitExceeded);
  return err as RateLimitExceeded;
}

export function describeLimitsContract(current: () => Store): void {
  const newAccount = (opts: { thumbprint?: string; directory?: string; now?: number; rateLimit?: CountedLimit | null; eabKeyId?: string | null } = {}) => {
    const thumbprint = opts.thumbprint ?? id();
    return current().accounts.createOrGet({
      id: id(),
      directory: opts.directory ?? 'default',
      jwk: { kty: 'EC', crv: 'P-256', x: thumbprint, y: 'y' },
      thumbprint,
      contact: [],
      termsOfServiceAgreed: true,
      eabKeyId: opts.eabKeyId ?? null,
      now: at(opts.now ?? 0),
      rateLimit: opts.rateLimit ?? null,
    });
  };
  const account = async (directory = 'default'): Promise<Account> => (await newAccount({ directory })).account;

  const authz = (value: string, over: Partial<NewAuthorization> = {}): NewAuthorization => ({
    id: id(),
    identifier: { type: 'dns', value },
    wildcard: false,
    expires: at(7 * 86_400_000),
    challenges: [{ id: id(), type: 'http-01', token: id() }],
    ...over,
  });
  const orderInput = (acct: Account, authorizations: NewAuthorization[], over: Partial<NewOrder> = {}): NewOrder => ({
    id: id(),
    directory: acct.directory,
    accountId: acct.id,
    identifiers: authorizations.map((a) => ({ type: a.identifier.type, value: (a.wildcard ? '*.' : '') + a.identifier.value })),
    notBefore: null,
    notAfter: null,
    profile: null,
    replaces: null,
    replacesCertificateId: null,
    expires: at(7 * 86_400_000),
    authorizations,
    now: at(0),
    ...over,
  });
  const order = (acct: Account, names: string[], over: Partial<NewOrder> = {}): Promise<Order> =>
    current().orders.createWithAuthorizations(orderInput(acct, names.map((n) => authz(n)), over));

  describe('rate limits (issue 9)', () => {
    const perIp = (max: number, subject = 'default 192.0.2.1'): CountedLimit => ({ name: 'newAccountsPerIp', subject, max, windowMs: HOUR });

    it('createOrGet counts new accounts against the window; the one past the limit is refused, written nowhere, with the time the oldest leaves the window', async () => {
      const store = current();
      for (let i = 0; i < 3; i++) expect((await newAccount({ now: i * 1000, rateLimit: perIp(3) })).created).toBe(true);
      const thumbprint = id();
      const err = await refusal(newAccount({ thumbprint, now: 5000, rateLimit: perIp(3) }));
      expect(err.limit).toBe('newAccountsPerIp');
      expect(err.retryAtMs).toBe(T0 + HOUR);
      expect(await store.accounts.findByThumbprint('default', thumbprint)).toBeNull();
      // Another subject has its own window; an off limit (0) counts nothing.
      expect((await newAccount({ now: 5000, rateLimit: perIp(3, 'default 192.0.2.2') })).created).toBe(true);
      expect((await newAccount({ now: 5000, rateLimit: perIp(0) })).created).toBe(true);
      // One ms before the first leaves the window: still full; at the moment it leaves: room for one.
      await refusal(newAccount({ thumbprint, now: HOUR - 1, rateLimit: perIp(3) }));
      expect((await newAccount({ thumbprint, now: HOUR, rateLimit: perIp(3) })).created).toBe(true);
      expect((await refusal(newAccount({ now: HOUR + 1, rateLimit: perIp(3) }))).retryAtMs).toBe(T0 + HOUR + 1000);
    });

    it('createOrGet of an existing account counts nothing, even with the window full', async () => {
      const first = await newAccount({ rateLimit: perIp(1) });
      const again = await newAccount({ thumbprint: first.account.thumbprint, now: 10, rateLimit: perIp(1) });
      expect(again).toMatchObject({ created: false, account: { id: first.account.id } });
      expect(await current().rateLimits.check(perIp(1), at(20))).toBe(T0 + HOUR);
      expect(await current().rateLimits.check(perIp(2), at(20))).toBeNull();
    });

    it('a refused bind of the EAB key rolls the count back with the account', async () => {
      const store = current();
      await store.eabKeys.create({ id: 'kid-once', directory: 'default', label: 'x', hmacKeyEnc: 'sealed', expiresAt: null, now: at(0) });
      await newAccount({ eabKeyId: 'kid-once', rateLimit: perIp(2) });
      await expect(newAccount({ eabKeyId: 'kid-once', rateLimit: perIp(2) })).rejects.toThrow(/no longer available/);
      expect(await store.rateLimits.check(perIp(2), at(1))).toBeNull();
    });

    it('createWithAuthorizations counts new orders per window; the refused one writes nothing', async () => {
      const store = current();
      const acct = await account();
      const newOrders: CountedLimit = { name: 'newOrdersPerAccount', subject: acct.id, max: 2, windowMs: HOUR };
      await order(acct, ['a.example.com'], { now: at(0), limits: { newOrders } });
      await order(acct, ['b.example.com'], { now: at(60_000), limits: { newOrders } });
      const err = await refusal(order(acct, ['c.example.com'], { now: at(120_000), limits: { newOrders } }));
      expect(err).toMatchObject({ limit: 'newOrdersPerAccount', retryAtMs: T0 + HOUR });
      expect((await store.orders.listForAccount(acct.id, null, 10)).orderIds).toHaveLength(2);
      expect((await order(acct, ['c.example.com'], { now: at(HOUR), limits: { newOrders } })).status).toBe('pending');
      expect((await refusal(order(acct, ['d.example.com'], { now: at(HOUR + 1), limits: { newOrders } }))).retryAtMs).toBe(T0 + 60_000 + HOUR);
    });

    it('pendingOrdersPerAccount counts the pending, unexpired orders of the account; a refusal names when the earliest expires', async () => {
      const store = current();
      const acct = await account();
      const other = await account();
      const pendingOrders = { name: 'pendingOrdersPerAccount' as const, max: 2 };
      const soon = await order(acct, ['soon.example.com'], { expires: at(HOUR) });
      await order(acct, ['later.example.com'], { expires: at(2 * HOUR) });
      await order(other, ['other.example.com']);
      expect((await refusal(order(acct, ['x.example.com'], { limits: { pendingOrders } }))).retryAtMs).toBe(T0 + HOUR);
      // The earliest one expires: it no longer counts.
      expect((await order(acct, ['x.example.com'], { now: at(HOUR), limits: { pendingOrders } })).status).toBe('pending');
      // A pending order that becomes ready frees its place too.
      const later = (await store.orders.listForAccount(acct.id, null, 10)).orderIds;
      expect(later).toContain(soon.id);
      await refusal(order(acct, ['y.example.com'], { now: at(HOUR + 1), limits: { pendingOrders } }));
      const ready = (await store.orders.get(later[1]!))!;
      const ch = (await store.authorizations.get(ready.authzIds[0]!))!.challenges[0]!;
      expect(await store.challenges.start(ch.id, job(), at(HOUR + 2))).toBe(true);
      expect(await store.challenges.recordValidation({ challengeId: ch.id, valid: true, error: null, record: {}, now: at(HOUR + 3) })).toBe(true);
      expect((await order(acct, ['y.example.com'], { now: at(HOUR + 4), limits: { pendingOrders } })).status).toBe('pending');
    });

    it('challenges.start refuses past concurrentValidationsPerAccount, leaving the challenge pending, with the earliest running deadline', async () => {
      const store = current();
      const acct = await account();
      const limit = { name: 'concurrentValidationsPerAccount' as const, max: 2 };
      const o = await order(acct, ['v1.example.com', 'v2.example.com', 'v3.example.com']);
      const [c1, c2, c3] = await Promise.all(o.authzIds.map(async (a) => (await store.authorizations.get(a))!.challenges[0]!.id));
      expect(await store.challenges.start(c1!, job(T0 + 50_000), at(1), limit)).toBe(true);
      expect(await store.challenges.start(c2!, job(T0 + 40_000), at(2), limit)).toBe(true);
      const err = await refusal(store.challenges.start(c3!, job(), at(3), limit));
      expect(err).toMatchObject({ limit: 'concurrentValidationsPerAccount', retryAtMs: T0 + 40_000 });
      expect((await store.challenges.get(c3!))!.challenge.status).toBe('pending');
      // Another account's validations are its own; one that ends frees a place.
      const o2 = await order(await account(), ['w.example.com']);
      expect(await store.challenges.start((await store.authorizations.get(o2.authzIds[0]!))!.challenges[0]!.id, job(), at(4), limit)).toBe(true);
      await store.challenges.recordValidation({ challengeId: c1!, valid: false, error: PROBLEM, record: {}, now: at(5) });
      expect(await store.challenges.start(c3!, job(), at(6), limit)).toBe(true);
    });

    it('recordValidation counts a recorded failure under its subject, once; a success or a challenge not processing counts nothing', async () => {
      const store = current();
      const acct = await account();
      const subject = `${acct.id} dns:f.example.com`;
      const limit: CountedLimit = { name: 'failedValidationsPerIdentifier', subject, max: 2, windowMs: HOUR };
      const o = await order(acct, ['f.example.com', 'f.example.com', 'g.example.com'].map((n) => n));
      const chs = await Promise.all(o.authzIds.map(async (a) => (await store.authorizations.get(a))!.challenges[0]!.id));
      for (const c of chs) await store.challenges.start(c, job(), at(1));
      const countFailure = { subject, windowMs: HOUR };
      expect(await store.challenges.recordValidation({ challengeId: chs[0]!, valid: false, error: PROBLEM, record: {}, now: at(10), countFailure })).toBe(true);
      expect(await store.rateLimits.check(limit, at(11))).toBeNull();
      // Not processing any more: false, and nothing counted.
      expect(await store.challenges.recordValidation({ challengeId: chs[0]!, valid: false, error: PROBLEM, record: {}, now: at(12), countFailure })).toBe(false);
      expect(await store.rateLimits.check(limit, at(13))).toBeNull();
      expect(await store.challenges.recordValidation({ challengeId: chs[2]!, valid: true, error: null, record: {}, now: at(14), countFailure })).toBe(true);
      expect(await store.rateLimits.check(limit, at(15))).toBeNull();
      await store.challenges.recordValidation({ challengeId: chs[1]!, valid: false, error: PROBLEM, record: {}, now: at(20), countFailure });
      expect(await store.rateLimits.check(limit, at(21))).toBe(T0 + 10 + HOUR);
      // check counts nothing itself, and a higher limit has room.
      expect(await store.rateLimits.check(limit, at(22))).toBe(T0 + 10 + HOUR);
      expect(await store.rateLimits.check({ ...limit, max: 3 }, at(22))).toBeNull();
      expect(await store.rateLimits.check(limit, at(10 + HOUR))).toBeNull();
    });

    it('prune deletes the events whose window has passed, and only those', async () => {
      const store = current();
      await newAccount({ now: 0, rateLimit: { ...perIp(5), windowMs: 1000 } });
      await newAccount({ now: 0, rateLimit: perIp(5) });
      expect(await store.rateLimits.prune(T0 + 999)).toBe(0);
      expect(await store.rateLimits.prune(T0 + 1000)).toBe(1);
      expect(await store.rateLimits.check(perIp(1), at(2000))).toBe(T0 + HOUR);
      expect(await store.rateLimits.prune(T0 + HOUR)).toBe(1);
      expect(await store.rateLimits.check(perIp(1), at(2000))).toBeNull();
    });
  });

  describe('rate limits: pruning in batches (issue 11)', () => {
    it('prune works through more than one batch and keeps the events still in their window', async () => {
      const store = current();
      const subject = `default 198.51.100.7 ${id()}`;
      const perIp = (max: number): CountedLimit => ({ name: 'newAccountsPerIp', subject, max, windowMs: HOUR });
      const expired = PRUNE_BATCH + 5;
      for (let i = 0; i < expired; i++) await newAccount({ now: 0, rateLimit: { ...perIp(expired + 10), windowMs: 1000 } });
      await newAccount({ now: 0, rateLimit: perIp(expired + 10) });
      expect(await store.rateLimits.prune(T0 + 1000)).toBe(expired);
      expect(await store.rateLimits.check(perIp(1), at(2000))).toBe(T0 + HOUR);
      expect(await store.rateLimits.check(perIp(2), at(2000))).toBeNull();
    });
  });

  describe('rate limits: a window counted without walking it (issue 11)', () => {
    const subject = () => `default 203.0.113.9 ${id()}`;
    const limitOf = (s: string, max: number): CountedLimit => ({ name: 'newAccountsPerIp', subject: s, max, windowMs: HOUR });

    it('a window of hundreds of events is counted exactly as its oldest events leave it', async () => {
      const store = current();
      const s = subject();
      for (let i = 0; i < 300; i++) await newAccount({ now: i, rateLimit: limitOf(s, 300) });
      expect(await store.rateLimits.check(limitOf(s, 300), at(299))).toBe(T0 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 301), at(299))).toBeNull();
      // At HOUR + 49 the events at 0…49 have left the window (it holds the events younger than an
      // hour): 250 remain, the oldest at 50.
      expect(await store.rateLimits.check(limitOf(s, 251), at(HOUR + 49))).toBeNull();
      expect(await store.rateLimits.check(limitOf(s, 250), at(HOUR + 49))).toBe(T0 + 50 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 100), at(HOUR + 49))).toBe(T0 + 200 + HOUR);
      expect((await refusal(newAccount({ now: 299, rateLimit: limitOf(s, 300) }))).retryAtMs).toBe(T0 + HOUR);
      expect(await store.rateLimits.prune(T0 + HOUR + 50)).toBeGreaterThanOrEqual(51);
      expect(await store.rateLimits.check(limitOf(s, 249), at(HOUR + 50))).toBe(T0 + 51 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 250), at(HOUR + 50))).toBeNull();
    });

    it('a clock stepped back counts the event at the subject\'s newest time: it leaves the window no sooner', async () => {
      const store = current();
      const s = subject();
      await newAccount({ now: 10_000, rateLimit: limitOf(s, 5) });
      await newAccount({ now: 5_000, rateLimit: limitOf(s, 5) });
      expect(await store.rateLimits.check(limitOf(s, 2), at(6_000))).toBe(T0 + 10_000 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 2), at(10_000 + HOUR - 1))).toBe(T0 + 10_000 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 1), at(10_000 + HOUR))).toBeNull();
    });

    it('an event deleted inside the window (its window shortened, then lengthened again) errs towards refusing, and never fails the check', async () => {
      const store = current();
      const s = subject();
      await newAccount({ now: 0, rateLimit: limitOf(s, 10) });
      await newAccount({ now: 1, rateLimit: { ...limitOf(s, 10), windowMs: 10 } });
      await newAccount({ now: 2, rateLimit: limitOf(s, 10) });
      expect(await store.rateLimits.prune(T0 + 11)).toBeGreaterThanOrEqual(1);
      // Two events remain in the hour; the numbers still span three.
      expect(await store.rateLimits.check(limitOf(s, 1), at(12))).toBe(T0 + 2 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 3), at(12))).toBe(T0 + HOUR);
      expect(await store.rateLimits.check(limitOf(s, 4), at(12))).toBeNull();
      expect(await store.rateLimits.check(limitOf(s, 1), at(2 + HOUR))).toBeNull();
    });
  });

  describe('pre-authorized scopes (issue 9)', () => {
    const key = async (keyId: string, directory = 'default') => {
      await current().eabKeys.create({
        id: keyId,
        directory,
        label: 'agents',
        hmacKeyEnc: 'sealed',
        expiresAt: null,
        now: at(0),
        rateLimits: { newOrdersPerAccount: { limit: 5, windowSeconds: 60 }, pendingOrdersPerAccount: 0 },
        preauthorizedScopes: { suffixes: ['agents.corp.test'], names: ['*.build.corp.test'], cidrs: ['10.30.0.0/16'] },
      });
    };

    it('an EAB key keeps its rate-limit overrides and scopes; a key without them has null', async () => {
      const store = current();
      await key('kid-scoped');
      await store.eabKeys.create({ id: 'kid-plain', directory: 'default', label: 'p', hmacKeyEnc: 'sealed', expiresAt: null, now: at(1) });
      expect(await store.eabKeys.get('kid-scoped')).toMatchObject({
        rateLimits: { newOrdersPerAccount: { limit: 5, windowSeconds: 60 }, pendingOrdersPerAccount: 0 },
        preauthorizedScopes: { suffixes: ['agents.corp.test'], names: ['*.build.corp.test'], cidrs: ['10.30.0.0/16'] },
      });
      expect(await store.eabKeys.get('kid-plain')).toMatchObject({ rateLimits: null, preauthorizedScopes: null });
      expect((await store.eabKeys.list('default')).map((k) => k.preauthorizedScopes === null)).toEqual([false, true]);
    });

    it('pre-authorized authorizations are created valid with no challenge and recorded; the order is ready when every one is', async () => {
      const store = current();
      await key('kid-a');
      const acct = (await newAccount({ eabKeyId: 'kid-a' })).account;
      const pre = (value: string, scope: string, over: Partial<NewAuthorization> = {}) => authz(value, { challenges: [], preauthorized: { eabKeyId: 'kid-a', scope }, ...over });
      const ready = await store.orders.createWithAuthorizations(
        orderInput(acct, [pre('ci-1.agents.corp.test', 'suffix agents.corp.test'), pre('build.corp.test', 'name *.build.corp.test', { wildcard: true })], { now: at(100) }),
      );
      expect(ready.status).toBe('ready');
      const authzs = await store.authorizations.getMany(ready.authzIds);
      expect(authzs.map((a) => [a.status, a.challenges.length])).toEqual([
        ['valid', 0],
        ['valid', 0],
      ]);
      const mixed = await store.orders.createWithAuthorizations(orderInput(acct, [pre('ci-2.agents.corp.test', 'suffix agents.corp.test'), authz('web.corp.test')], { now: at(200) }));
      expect(mixed.status).toBe('pending');
      expect((await store.authorizations.getMany(mixed.authzIds)).map((a) => a.status)).toEqual(['valid', 'pending']);
      // The pending one validated: the order becomes ready as usual.
      const ch = (await store.authorizations.get(mixed.authzIds[1]!))!.challenges[0]!;
      await store.challenges.start(ch.id, job(), at(300));
      await store.challenges.recordValidation({ challengeId: ch.id, valid: true, error: null, record: {}, now: at(301) });
      expect((await store.orders.get(mixed.id))!.status).toBe('ready');

      const uses = await store.preauthorizations.listForKey('kid-a', 10);
      const row = (u: (typeof uses)[number]) => [u.identifier.value, u.wildcard, u.scope, u.orderId, u.usedAt.getTime()];
      // Newest first (the two of one order share their time).
      expect(row(uses[0]!)).toEqual(['ci-2.agents.corp.test', false, 'suffix agents.corp.test', mixed.id, T0 + 200]);
      expect(uses.slice(1).map(row).sort()).toEqual([
        ['build.corp.test', true, 'name *.build.corp.test', ready.id, T0 + 100],
        ['ci-1.agents.corp.test', false, 'suffix agents.corp.test', ready.id, T0 + 100],
      ]);
      expect(uses[0]).toMatchObject({ eabKeyId: 'kid-a', directory: 'default', accountId: acct.id, authzId: mixed.authzIds[0], identifier: { type: 'dns' } });
      expect(await store.preauthorizations.listForKey('kid-a', 1)).toHaveLength(1);
    });

    it('usage counts each key of the directory whose scopes were used, with its last use', async () => {
      const store = current();
      await key('kid-1');
      await key('kid-2');
      await key('kid-p', 'payments');
      const a1 = (await newAccount({ eabKeyId: 'kid-1' })).account;
      const a2 = (await newAccount({ eabKeyId: 'kid-2' })).account;
      const ap = (await newAccount({ eabKeyId: 'kid-p', directory: 'payments' })).account;
      const pre = (k: string, v: string) => authz(v, { challenges: [], preauthorized: { eabKeyId: k, scope: 'suffix agents.corp.test' } });
      await store.orders.createWithAuthorizations(orderInput(a1, [pre('kid-1', 'a.agents.corp.test'), pre('kid-1', 'b.agents.corp.test')], { now: at(10) }));
      await store.orders.createWithAuthorizations(orderInput(a1, [pre('kid-1', 'c.agents.corp.test')], { now: at(30) }));
      await store.orders.createWithAuthorizations(orderInput(a2, [pre('kid-2', 'd.agents.corp.test')], { now: at(20) }));
      await store.orders.createWithAuthorizations(orderInput(ap, [pre('kid-p', 'e.agents.corp.test')], { now: at(40) }));
      await order(a2, ['not-pre.corp.test'], { now: at(50) });
      expect(await store.preauthorizations.usage('default')).toEqual([
        { eabKeyId: 'kid-1', count: 3, lastUsedAt: at(30) },
        { eabKeyId: 'kid-2', count: 1, lastUsedAt: at(20) },
      ]);
      expect(await store.preauthorizations.usage('payments')).toEqual([{ eabKeyId: 'kid-p', count: 1, lastUsedAt: at(40) }]);
      expect(await store.preauthorizations.usage('platform')).toEqual([]);
    });

    it('an order a limit refuses records no pre-authorization', async () => {
      const store = current();
      await key('kid-r');
      const acct = (await newAccount({ eabKeyId: 'kid-r' })).account;
      const newOrders: CountedLimit = { name: 'newOrdersPerAccount', subject: acct.id, max: 1, windowMs: HOUR };
      const pre = (v: string) => authz(v, { challenges: [], preauthorized: { eabKeyId: 'kid-r', scope: 'suffix agents.corp.test' } });
      await store.orders.createWithAuthorizations(orderInput(acct, [pre('one.agents.corp.test')], { limits: { newOrders } }));
      await refusal(store.orders.createWithAuthorizations(orderInput(acct, [pre('two.agents.corp.test')], { limits: { newOrders } })));
      expect((await store.preauthorizations.listForKey('kid-r', 10)).map((u) => u.identifier.value)).toEqual(['one.agents.corp.test']);
    });
  });
}
