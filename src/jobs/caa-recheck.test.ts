import { describe, expect, it } from 'vitest';
import { AcmeProblem } from '../acme/problems.js';
import type { Account, Authorization, ChallengeType, Order } from '../acme/types.js';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import type { CaaChecker, CaaRequest, CaaSettings } from '../validation/caa.js';
import { CaaRecheck, type CaaPolicy } from './caa-recheck.js';

// The CAA recheck before signing: only authorizations validated longer ago than the window are
// checked again, with the method that validated them and the account's URL; a refusal comes back as
// the problem the order ends with.

const HOUR = 3_600_000;
const POLICY: CaaPolicy = { issuerDomains: ['pki.corp.test'], recheckAfterSeconds: 8 * 3600 };
const START = Date.UTC(2026, 2, 1);

const account: Account = {
  id: 'acct1',
  directory: 'default',
  jwk: {},
  thumbprint: 't',
  status: 'valid',
  contact: [],
  termsOfServiceAgreed: true,
  eabKeyId: null,
  createdAt: new Date(START),
};

function authz(id: string, value: string, validatedAt: number | null, opts: { type?: 'dns' | 'ip'; wildcard?: boolean; method?: ChallengeType } = {}): Authorization {
  return {
    id,
    directory: 'default',
    accountId: account.id,
    identifier: { type: opts.type ?? 'dns', value },
    wildcard: opts.wildcard ?? false,
    status: 'valid',
    expires: new Date(START + 30 * 24 * HOUR),
    challenges: [
      { id: `${id}-h`, authzId: id, type: 'http-01', token: 'a', status: 'pending', validatedAt: null, error: null },
      { id: `${id}-v`, authzId: id, type: opts.method ?? 'dns-01', token: 'b', status: 'valid', validatedAt: validatedAt === null ? null : new Date(validatedAt), error: null },
    ],
  };
}

function order(authzIds: string[], directory = 'default'): Order {
  return {
    id: 'order1',
    directory,
    accountId: account.id,
    status: 'processing',
    identifiers: [],
    authzIds,
    notBefore: null,
    notAfter: null,
    profile: null,
    replaces: null,
    replacesCertificateId: null,
    expires: new Date(START + 7 * 24 * HOUR),
    error: null,
    certificateId: null,
    csrSpkiSha256: null,
    eabKeyId: null,
    createdAt: new Date(START),
    updatedAt: new Date(START),
  };
}

/** A checker that refuses the names it is told to, and records what it was asked. */
function fakeChecker(refuse: Record<string, AcmeProblem> = {}): CaaChecker & { asked: Array<{ req: CaaRequest; settings: CaaSettings }> } {
  const asked: Array<{ req: CaaRequest; settings: CaaSettings }> = [];
  return {
    asked,
    async check(req, settings) {
      asked.push({ req, settings });
      const problem = refuse[req.identifier.value];
      return problem ? { allowed: false, problem } : { allowed: true, domain: req.identifier.value };
    },
  };
}

/** `policy` null: CAA off. */
function recheck(authzs: Authorization[], checker: CaaChecker, clock: ManualClock, policy: CaaPolicy | null = POLICY) {
  const byId = new Map(authzs.map((a) => [a.id, a]));
  return new CaaRecheck({
    store: {
      accounts: { get: async (id) => (id === account.id ? account : null) },
      authorizations: { getMany: async (ids) => ids.map((i) => byId.get(i)!).filter(Boolean) },
    },
    caa: { checker, policyFor: (d) => (d === 'default' ? (policy ?? undefined) : undefined), accountUrl: (a) => `https://acme.corp.test/acct/${a.id}` },
    clock,
    logger: silentLogger(),
  });
}

describe('CaaRecheck.problemFor', () => {
  it('does nothing while every check is within the window', async () => {
    const clock = new ManualClock(START + 8 * HOUR); // validated exactly 8 h ago: not longer
    const checker = fakeChecker();
    expect(await recheck([authz('a1', 'www.corp.test', START)], checker, clock).problemFor(order(['a1']))).toBeNull();
    expect(checker.asked).toEqual([]);
  });

  it('checks again what was validated longer ago, with that method, the wildcard flag and the account URL', async () => {
    const clock = new ManualClock(START + 8 * HOUR + 1);
    const checker = fakeChecker();
    const authzs = [authz('a1', 'old.corp.test', START, { method: 'http-01' }), authz('a2', 'wild.corp.test', START, { wildcard: true }), authz('a3', 'fresh.corp.test', START + 8 * HOUR)];
    expect(await recheck(authzs, checker, clock).problemFor(order(['a1', 'a2', 'a3']))).toBeNull();
    expect(checker.asked).toEqual([
      { req: { identifier: { type: 'dns', value: 'old.corp.test' }, wildcard: false, accountUri: 'https://acme.corp.test/acct/acct1', method: 'http-01' }, settings: POLICY },
      { req: { identifier: { type: 'dns', value: 'wild.corp.test' }, wildcard: true, accountUri: 'https://acme.corp.test/acct/acct1', method: 'dns-01' }, settings: POLICY },
    ]);
  });

  it('returns the refusal: one problem as it is, several as subproblems', async () => {
    const clock = new ManualClock(START + 9 * HOUR);
    const one = new AcmeProblem('caa', 'CAA records for corp.test forbid issuance for a.corp.test', { identifier: { type: 'dns', value: 'a.corp.test' } });
    const two = new AcmeProblem('caa', 'CAA records for corp.test forbid issuance for b.corp.test', { identifier: { type: 'dns', value: 'b.corp.test' } });
    const authzs = [authz('a1', 'a.corp.test', START), authz('a2', 'b.corp.test', START), authz('a3', 'c.corp.test', START)];
    expect(await recheck(authzs, fakeChecker({ 'a.corp.test': one }), clock).problemFor(order(['a1', 'a3']))).toBe(one);
    const both = await recheck(authzs, fakeChecker({ 'a.corp.test': one, 'b.corp.test': two }), clock).problemFor(order(['a1', 'a2', 'a3']));
    expect(both?.type).toBe('caa');
    expect(both?.detail).toBe('CAA forbids issuance for 2 identifiers of the order');
    expect(both?.subproblems).toEqual([one, two]);
  });

  it('a DNS failure on the recheck is the dns problem; mixed with a caa refusal the whole is caa', async () => {
    const clock = new ManualClock(START + 9 * HOUR);
    const dns = new AcmeProblem('dns', 'DNS problem: SERVFAIL looking up CAA for corp.test');
    const caa = new AcmeProblem('caa', 'CAA records for corp.test forbid issuance');
    const authzs = [authz('a1', 'a.corp.test', START), authz('a2', 'b.corp.test', START)];
    expect((await recheck(authzs, fakeChecker({ 'a.corp.test': dns }), clock).problemFor(order(['a1', 'a2'])))?.type).toBe('dns');
    expect((await recheck(authzs, fakeChecker({ 'a.corp.test': dns, 'b.corp.test': caa }), clock).problemFor(order(['a1', 'a2'])))?.type).toBe('caa');
  });

  it('skips ip identifiers, rechecks an authorization with no validation time, and does nothing where CAA is off', async () => {
    const clock = new ManualClock(START + 9 * HOUR);
    const checker = fakeChecker();
    await recheck([authz('a1', '10.0.0.1', START, { type: 'ip' }), authz('a2', 'untimed.corp.test', null)], checker, clock).problemFor(order(['a1', 'a2']));
    expect(checker.asked.map((a) => a.req.identifier.value)).toEqual(['untimed.corp.test']);
    const off = fakeChecker();
    expect(await recheck([authz('a1', 'x.corp.test', START)], off, clock).problemFor(order(['a1'], 'other-directory'))).toBeNull();
    expect(await recheck([authz('a1', 'x.corp.test', START)], off, clock, null).problemFor(order(['a1']))).toBeNull();
    expect(off.asked).toEqual([]);
  });

  it('a zero window rechecks every time', async () => {
    const clock = new ManualClock(START + 1);
    const checker = fakeChecker();
    await recheck([authz('a1', 'x.corp.test', START)], checker, clock, { ...POLICY, recheckAfterSeconds: 0 }).problemFor(order(['a1']));
    expect(checker.asked).toHaveLength(1);
  });
});
