import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import type { Account } from '../../src/acme/types.js';
import { RateLimitExceeded, type CountedLimit, type NewOrder, type Store } from '../../src/store/types.js';

// Rate limits on a store shared by replicas (issue 9 item 5), called from describeReplicaContract
// (store-contract-replicas.ts): two stores, each with its own pool, on one database, racing for the
// last slots of one limit. However the requests interleave, exactly `max` of them pass: each check
// and its count are one write, serialized per limit and subject.

const T0 = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const id = () => randomBytes(12).toString('base64url');
const ROUNDS = 4;
const RACERS = 8;
const MAX = 3;
const HOUR = 3_600_000;

/** Settles every attempt; the ones that passed, and checks every other was refused by the limit. */
async function passed<T>(attempts: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(attempts);
  for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RateLimitExceeded);
  return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

export function describeReplicaLimitsContract(stores: () => [Store, Store]): void {
  const account = async (store: Store, rateLimit: CountedLimit | null = null): Promise<Account> => {
    const thumbprint = id();
    const { account } = await store.accounts.createOrGet({
      id: id(), directory: 'default', jwk: { kty: 'EC', x: thumbprint }, thumbprint, contact: [], termsOfServiceAgreed: true, eabKeyId: null, now: at(0), rateLimit,
    });
    return account;
  };
  const orderInput = (acct: Account, name: string, limits: NewOrder['limits']): NewOrder => ({
    id: id(), directory: 'default', accountId: acct.id, identifiers: [{ type: 'dns', value: name }], notBefore: null, notAfter: null, profile: null,
    replaces: null, replacesCertificateId: null, expires: at(86_400_000), now: at(0), limits,
    authorizations: [{ id: id(), identifier: { type: 'dns', value: name }, wildcard: false, expires: at(86_400_000), challenges: [{ id: id(), type: 'http-01', token: id() }] }],
  });
  const racing = <T>(fn: (store: Store, i: number) => Promise<T>) => Array.from({ length: RACERS }, (_, i) => fn(stores()[i % 2]!, i));

  it('new accounts from one address on two replicas at once: exactly the limit are created', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const limit: CountedLimit = { name: 'newAccountsPerIp', subject: `default 192.0.2.${round}`, max: MAX, windowMs: HOUR };
      const created = await passed(racing((store) => account(store, limit)));
      expect(created).toHaveLength(MAX);
      expect(await stores()[1].rateLimits.check(limit, at(1))).toBe(T0 + HOUR);
    }
  });

  it('new orders of one account on two replicas at once: exactly the limit are created', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const acct = await account(stores()[0]);
      const newOrders: CountedLimit = { name: 'newOrdersPerAccount', subject: acct.id, max: MAX, windowMs: HOUR };
      const created = await passed(racing((store, i) => store.orders.createWithAuthorizations(orderInput(acct, `n${i}.example.com`, { newOrders }))));
      expect(created).toHaveLength(MAX);
      expect((await stores()[1].orders.listForAccount(acct.id, null, 100)).orderIds).toHaveLength(MAX);
    }
  });

  it('pending orders of one account on two replicas at once: never more than the limit', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const acct = await account(stores()[0]);
      const pendingOrders = { name: 'pendingOrdersPerAccount' as const, max: MAX };
      const created = await passed(racing((store, i) => store.orders.createWithAuthorizations(orderInput(acct, `p${i}.example.com`, { pendingOrders }))));
      expect(created).toHaveLength(MAX);
    }
  });

  it('validations of one account started on two replicas at once: never more than the limit run', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [a] = stores();
      const acct = await account(a);
      const orders = await Promise.all(Array.from({ length: RACERS }, (_, i) => a.orders.createWithAuthorizations(orderInput(acct, `v${i}.example.com`, {}))));
      const challenges = await Promise.all(orders.map(async (o) => (await a.authorizations.get(o.authzIds[0]!))!.challenges[0]!.id));
      const limit = { name: 'concurrentValidationsPerAccount' as const, max: MAX };
      const started = await passed(racing((store, i) => store.challenges.start(challenges[i]!, { id: id(), runAt: T0, deadlineAt: T0 + 60_000 }, at(1), limit)));
      expect(started.filter(Boolean)).toHaveLength(MAX);
    }
  });
}
