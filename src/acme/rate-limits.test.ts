import { describe, expect, it } from 'vitest';
import { appliedLimits, clientKey, describeOverrides, failedValidationSubject, rateLimitedProblem, retryAfterSeconds, spellWindow, type RateLimitSettings } from './rate-limits.js';

const LIMITS: RateLimitSettings = {
  newOrdersPerAccount: { limit: 300, windowSeconds: 10_800 },
  newAccountsPerIp: { limit: 10, windowSeconds: 3600 },
  failedValidationsPerIdentifier: 5,
  pendingOrdersPerAccount: 100,
  concurrentValidationsPerAccount: 0,
};
const DIR = { source: 'directory "payments"', limits: LIMITS };

describe('rate limits (RFC 8555 §6.6)', () => {
  it("a key's override replaces the directory's value, names the key, and keeps the directory's window when it has none", () => {
    const plain = appliedLimits(DIR, null);
    expect(plain.newOrdersPerAccount).toEqual({ name: 'newOrdersPerAccount', limit: 300, windowMs: 10_800_000, rule: 'rateLimits.newOrdersPerAccount of directory "payments"' });
    expect(plain.failedValidationsPerIdentifier).toMatchObject({ limit: 5, windowMs: 3_600_000 });
    expect(plain.pendingOrdersPerAccount).toMatchObject({ limit: 100, windowMs: null });
    const keyed = appliedLimits(DIR, { id: 'kid-1', overrides: { newOrdersPerAccount: { limit: 5000 }, newAccountsPerIp: { limit: 1, windowSeconds: 60 }, pendingOrdersPerAccount: 0 } });
    expect(keyed.newOrdersPerAccount).toEqual({ name: 'newOrdersPerAccount', limit: 5000, windowMs: 10_800_000, rule: 'rateLimits.newOrdersPerAccount of EAB key kid-1' });
    expect(keyed.newAccountsPerIp).toMatchObject({ limit: 1, windowMs: 60_000 });
    expect(keyed.pendingOrdersPerAccount).toMatchObject({ limit: 0, rule: 'rateLimits.pendingOrdersPerAccount of EAB key kid-1' });
    expect(keyed.concurrentValidationsPerAccount.rule).toBe('rateLimits.concurrentValidationsPerAccount of directory "payments"');
  });

  it('a client is its IPv4 address (mapped forms too) or its IPv6 /64', () => {
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('2001:db8:a:b:1:2:3:4')).toBe('2001:db8:a:b::/64');
    expect(clientKey('2001:db8:a:b::ffff')).toBe('2001:db8:a:b::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('not an address')).toBeNull();
    expect(failedValidationSubject('acct', { type: 'dns', value: '*.Example.COM' })).toBe('acct dns:example.com');
  });

  it('rateLimited: 429, whole seconds in Retry-After (at least 1), a detail naming the limit, its value and its rule', () => {
    const p = rateLimitedProblem(appliedLimits(DIR, null).newOrdersPerAccount, 'new orders for this account', 10_000 + 2_500, 10_000);
    expect(p.status).toBe(429);
    expect(p.type).toBe('rateLimited');
    expect(p.headers).toEqual({ 'Retry-After': '3' });
    expect(p.detail).toBe('too many new orders for this account: the limit is 300 per 3h (rateLimits.newOrdersPerAccount of directory "payments"); retry after 3 s');
    expect(retryAfterSeconds(100, 100)).toBe(1);
    expect(retryAfterSeconds(1001, 0)).toBe(2);
    const c = rateLimitedProblem(appliedLimits(DIR, null).pendingOrdersPerAccount, 'pending orders', 60_000, 0, { hint: '(when one expires)', identifier: { type: 'dns', value: 'x' } });
    expect(c.detail).toBe('too many pending orders: the limit is 100 at once (rateLimits.pendingOrdersPerAccount of directory "payments"); retry after 60 s (when one expires)');
    expect(c.toDocument().identifier).toEqual({ type: 'dns', value: 'x' });
  });

  it('windows and overrides spelled for people', () => {
    expect([86_400_000, 10_800_000, 5_400_000, 45_000].map(spellWindow)).toEqual(['1d', '3h', '90m', '45s']);
    expect(describeOverrides(null)).toBe('-');
    expect(describeOverrides({ newOrdersPerAccount: { limit: 50, windowSeconds: 3600 }, newAccountsPerIp: { limit: 3 }, pendingOrdersPerAccount: 0 })).toBe(
      'newOrdersPerAccount=50/1h newAccountsPerIp=3 pendingOrdersPerAccount=0',
    );
  });
});
