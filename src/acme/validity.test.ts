import { describe, expect, it } from 'vitest';
import { AcmeProblem } from './problems.js';
import { ValidityPolicy, type ValidityRequest } from './validity.js';

// ValidityPolicy is pure: plain settings and a `now` in, a window or a problem out. Each rule of
// resolve() and periodFor() has a case that fails when the rule's line is removed.

const DAY = 86_400_000;
const NOW = new Date('2030-06-01T12:00:00.000Z');
const at = (ms: number): string => new Date(NOW.getTime() + ms).toISOString();

const policy = new ValidityPolicy({
  defaultPeriodDays: 90,
  profiles: { short: { period: 7 }, plain: {} },
});

function refusal(p: ValidityPolicy, req: ValidityRequest): AcmeProblem {
  try {
    p.resolve(req, NOW);
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(req)} to be refused`);
}

describe('ValidityPolicy.resolve', () => {
  it('nothing asked: no window, no profile', () => {
    expect(policy.resolve({}, NOW)).toEqual({ notBefore: null, notAfter: null, profile: null });
  });

  it.each(['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z', ''])('the zero time %j (Step CLI "unset", interop item 20) means unset', (zero) => {
    expect(policy.resolve({ notBefore: zero, notAfter: zero }, NOW)).toEqual({ notBefore: null, notAfter: null, profile: null });
  });

  it('times that are not RFC 3339 date-times are malformed', () => {
    expect(refusal(policy, { notAfter: '2030-07-01' })).toMatchObject({ type: 'malformed', detail: 'notAfter must be an RFC 3339 date-time' });
    expect(refusal(policy, { notBefore: '2030-13-45T00:00:00Z' })).toMatchObject({ type: 'malformed', detail: 'notBefore is not a valid date-time' });
  });

  it('notBefore: now, the past, and up to 5 minutes ahead (client clocks) pass; later is refused', () => {
    expect(policy.resolve({ notBefore: at(0) }, NOW).notBefore).toEqual(NOW);
    expect(policy.resolve({ notBefore: at(-DAY) }, NOW).notBefore).toEqual(new Date(NOW.getTime() - DAY));
    expect(policy.resolve({ notBefore: at(5 * 60_000) }, NOW).notBefore).toEqual(new Date(NOW.getTime() + 5 * 60_000));
    const p = refusal(policy, { notBefore: at(5 * 60_000 + 1) });
    expect(p.type).toBe('malformed');
    expect(p.detail).toMatch(/notBefore must not be in the future/);
  });

  it('notAfter must lie more than a minute ahead and after notBefore', () => {
    expect(refusal(policy, { notAfter: at(60_000) })).toMatchObject({ type: 'malformed', detail: 'notAfter must be in the future' });
    expect(refusal(policy, { notAfter: at(-DAY) })).toMatchObject({ type: 'malformed', detail: 'notAfter must be in the future' });
    expect(policy.resolve({ notAfter: at(60_001) }, NOW).notAfter).toEqual(new Date(NOW.getTime() + 60_001));
    expect(refusal(policy, { notBefore: at(-DAY), notAfter: at(-DAY) })).toMatchObject({ type: 'malformed' });
    expect(refusal(policy, { notBefore: at(4 * 60_000), notAfter: at(3 * 60_000) })).toMatchObject({ type: 'malformed', detail: 'notAfter must be after notBefore' });
  });

  it('notAfter is limited by the default period, counted in whole days from now', () => {
    expect(policy.resolve({ notAfter: at(90 * DAY) }, NOW).notAfter).toEqual(new Date(NOW.getTime() + 90 * DAY));
    const p = refusal(policy, { notAfter: at(90 * DAY + 1) });
    expect(p.type).toBe('malformed');
    expect(p.detail).toBe('notAfter is 91 days away; this server issues for at most 90 days');
  });

  it("notAfter is limited by the profile's own period; a profile without one gets the default", () => {
    expect(policy.resolve({ profile: 'short', notAfter: at(7 * DAY) }, NOW)).toMatchObject({ profile: 'short' });
    expect(refusal(policy, { profile: 'short', notAfter: at(8 * DAY) })).toMatchObject({
      type: 'malformed',
      detail: 'notAfter is 8 days away; this server issues for at most 7 days (profile short)',
    });
    expect(policy.resolve({ profile: 'plain', notAfter: at(90 * DAY) }, NOW)).toMatchObject({ profile: 'plain' });
    expect(refusal(policy, { profile: 'plain', notAfter: at(91 * DAY) }).detail).toMatch(/at most 90 days \(profile plain\)/);
  });

  it('the default profile applies when the order names none, with its period', () => {
    const withDefault = new ValidityPolicy({ defaultPeriodDays: 90, profiles: { short: { period: 7 } }, defaultProfile: 'short' });
    expect(withDefault.resolve({}, NOW).profile).toBe('short');
    expect(refusal(withDefault, { notAfter: at(8 * DAY) }).detail).toMatch(/at most 7 days \(profile short\)/);
  });

  it('a profile that is not offered is invalidProfile, naming what is offered', () => {
    const p = refusal(policy, { profile: 'long' });
    expect(p.type).toBe('invalidProfile');
    expect(p.detail).toBe('profile "long" is not offered (offered: short, plain)');
    expect(refusal(new ValidityPolicy({ defaultPeriodDays: 90, profiles: {} }), { profile: 'x' }).detail).toBe('profile "x" is not offered');
  });

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])('%s (an Object.prototype name) is not an offered profile', (name) => {
    expect(refusal(policy, { profile: name }).type).toBe('invalidProfile');
  });
});

describe('ValidityPolicy.periodFor', () => {
  it('no notAfter: the longest period of the profile, or the default', () => {
    expect(policy.periodFor({ notAfter: null, profile: null }, NOW)).toBe(90);
    expect(policy.periodFor({ notAfter: null, profile: 'short' }, NOW)).toBe(7);
    expect(policy.periodFor({ notAfter: null, profile: 'plain' }, NOW)).toBe(90);
  });

  it('a notAfter maps to whole days from now, rounded up, so the certificate lasts at least as asked', () => {
    expect(policy.periodFor({ notAfter: new Date(NOW.getTime() + 10 * DAY), profile: null }, NOW)).toBe(10);
    expect(policy.periodFor({ notAfter: new Date(NOW.getTime() + 10 * DAY + 1), profile: null }, NOW)).toBe(11);
  });

  it('never less than one day, never more than the profile allows (time passed since the order)', () => {
    expect(policy.periodFor({ notAfter: new Date(NOW.getTime() - DAY), profile: null }, NOW)).toBe(1);
    expect(policy.periodFor({ notAfter: new Date(NOW.getTime() + 30 * DAY), profile: 'short' }, NOW)).toBe(7);
    expect(policy.periodFor({ notAfter: new Date(NOW.getTime() + 200 * DAY), profile: null }, NOW)).toBe(90);
  });
});

describe('ValidityPolicy with the issuance policy\'s maxValidityDays (issue 9)', () => {
  const cap = { days: 30, rule: 'maxValidityDays of directory "payments"' };

  it('a notAfter past the cap is malformed, naming the rule; within it is fine', () => {
    expect(policy.resolve({ notAfter: at(30 * DAY) }, NOW, cap).notAfter).toEqual(new Date(at(30 * DAY)));
    const p = refusalWith(policy, { notAfter: at(31 * DAY) }, cap);
    expect(p).toMatchObject({ type: 'malformed', detail: 'notAfter is 31 days away; this server issues for at most 30 days (maxValidityDays of directory "payments")' });
  });

  it('a cap looser than the profile changes nothing: the profile names the limit', () => {
    expect(refusalWith(policy, { notAfter: at(8 * DAY), profile: 'short' }, cap).detail).toBe('notAfter is 8 days away; this server issues for at most 7 days (profile short)');
  });

  it('periodFor never asks the PCA for more than the cap', () => {
    expect(policy.periodFor({ notAfter: null, profile: null }, NOW, 30)).toBe(30);
    expect(policy.periodFor({ notAfter: null, profile: 'short' }, NOW, 30)).toBe(7);
    expect(policy.periodFor({ notAfter: null, profile: null }, NOW, null)).toBe(90);
  });
});

function refusalWith(p: ValidityPolicy, req: ValidityRequest, cap: { days: number; rule: string }): AcmeProblem {
  try {
    p.resolve(req, NOW, cap);
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}
