import { describe, expect, it } from 'vitest';
import { describeRules, IssuancePolicy, type IssuanceRules } from './issuance-policy.js';
import { AcmeProblem } from './problems.js';
import type { Identifier } from './types.js';

// The issuance policy is pure: rules in, a decision or a problem out. Every rule has an allowed and a
// refused case, and narrowing by a second layer can only refuse more.

const dir = (rules: IssuanceRules) => new IssuancePolicy([{ source: 'directory "payments"', rules }]);
const dns = (value: string): Identifier => ({ type: 'dns', value });
const ip = (value: string): Identifier => ({ type: 'ip', value });

function refusal(policy: IssuancePolicy, ids: Identifier[]): AcmeProblem {
  try {
    policy.checkOrder(ids);
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  throw new Error(`expected ${ids.map((i) => i.value).join(', ')} to be refused`);
}

/** The refused values, in order, from the subproblems (each must carry its identifier). */
function refused(policy: IssuancePolicy, ids: Identifier[]): string[] {
  const p = refusal(policy, ids);
  expect(p.type).toBe('rejectedIdentifier');
  return (p.subproblems ?? []).map((s) => {
    expect(s.type).toBe('rejectedIdentifier');
    return s.identifier!.value;
  });
}

describe('IssuancePolicy: names', () => {
  it('an empty policy (or none) allows everything the gateway takes', () => {
    for (const p of [new IssuancePolicy(), dir({})]) {
      expect(() => p.checkOrder([dns('anything.test'), dns('*.wild.test'), ip('10.0.0.1'), ip('::1')])).not.toThrow();
      expect(p.challengesFor('dns', false)).toEqual(['http-01', 'dns-01', 'tls-alpn-01']);
      expect(p.maxValidity()).toBeNull();
    }
  });

  it('allowedSuffixes: the name equals a suffix or ends in ".<suffix>"; nothing else', () => {
    const p = dir({ allowedSuffixes: ['payments.corp.test'] });
    expect(() => p.checkOrder([dns('payments.corp.test'), dns('api.payments.corp.test'), dns('A.B.Payments.Corp.Test')])).not.toThrow();
    expect(refused(p, [dns('evilpayments.corp.test'), dns('corp.test'), dns('payments.corp.test.evil.test'), dns('ok.payments.corp.test')])).toEqual([
      'evilpayments.corp.test',
      'corp.test',
      'payments.corp.test.evil.test',
    ]);
  });

  it('allowedSuffixes and wildcards: "*.B" is allowed when B is within a suffix, so every name it covers is', () => {
    const p = dir({ allowedSuffixes: ['payments.corp.test'] });
    expect(() => p.checkOrder([dns('*.payments.corp.test'), dns('*.api.payments.corp.test')])).not.toThrow();
    expect(refused(p, [dns('*.corp.test')])).toEqual(['*.corp.test']);
  });

  it('allowedNames: exact names besides the suffixes; a wildcard only when spelled so', () => {
    const p = dir({ allowedSuffixes: ['payments.corp.test'], allowedNames: ['status.corp.test', '*.apps.corp.test'] });
    expect(() => p.checkOrder([dns('status.corp.test'), dns('*.apps.corp.test'), dns('x.payments.corp.test')])).not.toThrow();
    expect(refused(p, [dns('www.status.corp.test'), dns('x.apps.corp.test')])).toEqual(['www.status.corp.test', 'x.apps.corp.test']);
    const namesOnly = dir({ allowedNames: ['one.test'] });
    expect(() => namesOnly.checkOrder([dns('one.test')])).not.toThrow();
    expect(refusal(namesOnly, [dns('two.test')]).detail).toBe('the issuance policy refuses "two.test": the name is not one of the allowed names (allowedNames of directory "payments")');
  });

  it('[] allows nothing of its kind', () => {
    expect(refused(dir({ allowedSuffixes: [] }), [dns('a.test')])).toEqual(['a.test']);
    expect(refused(dir({ allowedIpCidrs: [] }), [ip('10.0.0.1')])).toEqual(['10.0.0.1']);
    expect(() => dir({ allowedIpCidrs: [] }).checkOrder([dns('a.test')])).not.toThrow();
  });

  it('deniedNames: exact entries, ".x" subtrees (x itself included), and the wildcards that would cover either', () => {
    const p = dir({ allowedSuffixes: ['corp.test'], deniedNames: ['admin.payments.corp.test', '.internal.corp.test', '*.legacy.corp.test'] });
    expect(() => p.checkOrder([dns('api.payments.corp.test'), dns('notinternal.corp.test'), dns('x.legacy.corp.test'), dns('*.api.payments.corp.test')])).not.toThrow();
    expect(
      refused(p, [
        dns('ADMIN.payments.corp.test'), // exact, any case
        dns('internal.corp.test'), // the subtree's top
        dns('db.eu.internal.corp.test'), // below it
        dns('*.payments.corp.test'), // would cover admin.payments.corp.test
        dns('*.corp.test'), // would cover internal.corp.test
        dns('*.eu.internal.corp.test'), // inside the subtree
        dns('*.legacy.corp.test'), // that wildcard exactly
      ]),
    ).toEqual(['ADMIN.payments.corp.test', 'internal.corp.test', 'db.eu.internal.corp.test', '*.payments.corp.test', '*.corp.test', '*.eu.internal.corp.test', '*.legacy.corp.test']);
    // A deny wins over an exact allow.
    expect(refused(dir({ allowedNames: ['a.test'], deniedNames: ['a.test'] }), [dns('a.test')])).toEqual(['a.test']);
  });

  it('wildcards: false refuses "*." identifiers only', () => {
    const p = dir({ wildcards: false });
    expect(() => p.checkOrder([dns('a.test')])).not.toThrow();
    const problem = refusal(p, [dns('*.a.test')]);
    expect(problem.detail).toBe('the issuance policy refuses "*.a.test": wildcard identifiers are not allowed (wildcards of directory "payments")');
    expect(() => dir({ wildcards: true }).checkOrder([dns('*.a.test')])).not.toThrow();
  });

  it('allowedIpCidrs: the address (any spelling, IPv4-mapped included) must lie in a range; dns names are not affected', () => {
    const p = dir({ allowedIpCidrs: ['10.20.0.0/16', 'fd00::/8'] });
    expect(() => p.checkOrder([ip('10.20.1.2'), ip('fd00::1'), ip('::ffff:10.20.3.4'), dns('x.test')])).not.toThrow();
    expect(refused(p, [ip('10.21.0.1'), ip('fe80::1'), ip('::ffff:169.254.169.254')])).toEqual(['10.21.0.1', 'fe80::1', '::ffff:169.254.169.254']);
    expect(refusal(p, [ip('10.21.0.1')]).subproblems![0]!.detail).toBe('the address is in none of 10.20.0.0/16, fd00::/8 (allowedIpCidrs of directory "payments")');
  });

  it('maxIdentifiers: counts the order, names the limit, no subproblems (no one identifier is at fault)', () => {
    const p = dir({ maxIdentifiers: 2 });
    expect(() => p.checkOrder([dns('a.test'), dns('b.test')])).not.toThrow();
    const problem = refusal(p, [dns('a.test'), dns('b.test'), dns('c.test')]);
    expect(problem.type).toBe('rejectedIdentifier');
    expect(problem.detail).toBe('the order has 3 identifiers; at most 2 are allowed in one order (maxIdentifiers of directory "payments")');
    expect(problem.subproblems).toBeUndefined();
  });

  it('a refusal: one subproblem per refused identifier with its identifier; the top-level detail names each rule', () => {
    const p = dir({ allowedSuffixes: ['payments.corp.test'], deniedNames: ['admin.payments.corp.test'], wildcards: false });
    const problem = refusal(p, [dns('ok.payments.corp.test'), dns('evil.test'), dns('admin.payments.corp.test'), dns('*.payments.corp.test')]);
    expect(problem.toDocument()).toEqual({
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      status: 400,
      detail:
        'the issuance policy refuses 3 identifiers: "evil.test" (allowedSuffixes of directory "payments"), "admin.payments.corp.test" (deniedNames of directory "payments"), "*.payments.corp.test" (wildcards of directory "payments")',
      subproblems: [
        { type: 'urn:ietf:params:acme:error:rejectedIdentifier', status: 400, detail: 'the name is under none of payments.corp.test (allowedSuffixes of directory "payments")', identifier: { type: 'dns', value: 'evil.test' } },
        { type: 'urn:ietf:params:acme:error:rejectedIdentifier', status: 400, detail: 'the name is denied (deniedNames of directory "payments")', identifier: { type: 'dns', value: 'admin.payments.corp.test' } },
        { type: 'urn:ietf:params:acme:error:rejectedIdentifier', status: 400, detail: 'wildcard identifiers are not allowed (wildcards of directory "payments")', identifier: { type: 'dns', value: '*.payments.corp.test' } },
      ],
    });
  });
});

describe('IssuancePolicy: challenges, keys, validity', () => {
  it('allowedChallenges filters what an authorization offers', () => {
    const p = dir({ allowedChallenges: ['dns-01', 'tls-alpn-01'] });
    expect(p.challengesFor('dns', false)).toEqual(['dns-01', 'tls-alpn-01']);
    expect(p.challengesFor('ip', false)).toEqual(['tls-alpn-01']);
    expect(p.challengesFor('dns', true)).toEqual(['dns-01']);
  });

  it('an identifier none of the allowed challenges can validate is refused (wildcards need dns-01, addresses cannot use it)', () => {
    const p = dir({ allowedChallenges: ['http-01'] });
    expect(() => p.checkOrder([dns('a.test'), ip('10.0.0.1')])).not.toThrow();
    expect(refused(p, [dns('*.a.test')])).toEqual(['*.a.test']);
    expect(refusal(p, [dns('*.a.test')]).subproblems![0]!.detail).toBe(
      'it can be validated only with dns-01, which the policy does not offer (allowedChallenges of directory "payments": http-01)',
    );
    expect(refused(dir({ allowedChallenges: ['dns-01'] }), [ip('10.0.0.1')])).toEqual(['10.0.0.1']);
  });

  it('keyTypes and minRsaBits: badCSR naming the rule', () => {
    const p = dir({ keyTypes: ['ecdsa-p256', 'rsa3072', 'rsa4096'], minRsaBits: 4096 });
    expect(() => p.checkKey('ecdsa-p256')).not.toThrow();
    expect(() => p.checkKey('rsa4096')).not.toThrow();
    const wrongType = (() => {
      try {
        p.checkKey('ecdsa-p384');
      } catch (e) {
        return e as AcmeProblem;
      }
    })();
    expect(wrongType).toMatchObject({ type: 'badCSR', detail: 'key type ecdsa-p384 is not allowed (keyTypes of directory "payments": ecdsa-p256, rsa3072, rsa4096)' });
    expect(() => p.checkKey('rsa3072')).toThrow('an RSA key of 3072 bits is too short: at least 4096 (minRsaBits of directory "payments")');
    expect(() => dir({ minRsaBits: 3072 }).checkKey('ecdsa-p256')).not.toThrow();
  });

  it('maxValidity: the shortest of the layers, with its rule', () => {
    expect(dir({ maxValidityDays: 30 }).maxValidity()).toEqual({ days: 30, rule: 'maxValidityDays of directory "payments"' });
    const narrowed = dir({ maxValidityDays: 30 }).narrowedBy({ source: 'EAB key kid-1', rules: { maxValidityDays: 7 } });
    expect(narrowed.maxValidity()).toEqual({ days: 7, rule: 'maxValidityDays of EAB key kid-1' });
    expect(dir({ maxValidityDays: 30 }).narrowedBy({ source: 'EAB key kid-1', rules: { maxValidityDays: 90 } }).maxValidity()!.days).toBe(30);
  });
});

describe('IssuancePolicy: an EAB key narrows, never widens', () => {
  const base = dir({ allowedSuffixes: ['payments.corp.test'], allowedChallenges: ['http-01', 'dns-01'], keyTypes: ['ecdsa-p256', 'rsa2048'] });

  it('a key allowing more than the directory still gets only what the directory allows', () => {
    const wide = base.narrowedBy({ source: 'EAB key kid-w', rules: { allowedSuffixes: ['corp.test', 'other.test'], wildcards: true, allowedChallenges: ['tls-alpn-01', 'http-01'], keyTypes: ['ecdsa-p384', 'ecdsa-p256'] } });
    expect(refusal(wide, [dns('x.other.test')]).subproblems![0]!.detail).toContain('(allowedSuffixes of directory "payments")');
    expect(wide.challengesFor('dns', false)).toEqual(['http-01']);
    expect(() => wide.checkKey('ecdsa-p384')).toThrow(/keyTypes of directory "payments"/);
    expect(() => wide.checkKey('ecdsa-p256')).not.toThrow();
  });

  it('a key narrowing the directory refuses what the directory allows, and says it was the key', () => {
    const narrow = base.narrowedBy({ source: 'EAB key kid-n', rules: { allowedNames: ['api.payments.corp.test'], deniedNames: ['.batch.payments.corp.test'], wildcards: false, maxIdentifiers: 1, allowedIpCidrs: [] } });
    expect(() => narrow.checkOrder([dns('api.payments.corp.test')])).not.toThrow();
    expect(refusal(narrow, [dns('web.payments.corp.test')]).detail).toContain('(allowedNames of EAB key kid-n)');
    expect(refusal(narrow, [dns('a.test'), dns('b.test')]).detail).toContain('maxIdentifiers of EAB key kid-n');
    expect(refusal(narrow, [ip('10.0.0.1')]).detail).toContain('allowedIpCidrs of EAB key kid-n');
    expect(base.narrowedBy(null)).toBe(base);
  });
});

describe('describeRules', () => {
  it('lists only what is set', () => {
    expect(describeRules(null)).toBe('-');
    expect(describeRules({})).toBe('-');
    expect(describeRules({ allowedSuffixes: ['a.test', 'b.test'], wildcards: false, allowedIpCidrs: [], maxValidityDays: 30 })).toBe(
      'allowedSuffixes=a.test,b.test allowedIpCidrs=(none) wildcards=false maxValidityDays=30',
    );
  });
});
