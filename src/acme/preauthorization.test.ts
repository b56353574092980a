import { describe, expect, it } from 'vitest';
import { normalizeIdentifier } from './identifiers.js';
import { describeScopes, hasScopes, ScopeMatcher } from './preauthorization.js';

const m = new ScopeMatcher({ names: ['ci.corp.test', '*.apps.corp.test'], suffixes: ['agents.corp.test'], cidrs: ['10.30.0.0/16', 'fd00:30::/32'] });
const match = (value: string, type: 'dns' | 'ip' = 'dns') => m.match(normalizeIdentifier({ type, value }));

describe('pre-authorized scopes', () => {
  it('a suffix covers itself, the names below it and their wildcards', () => {
    expect(match('agents.corp.test')).toBe('suffix agents.corp.test');
    expect(match('a.b.Agents.corp.test')).toBe('suffix agents.corp.test');
    expect(match('*.pool.agents.corp.test')).toBe('suffix agents.corp.test');
    expect(match('*.corp.test')).toBeNull();
    expect(match('xagents.corp.test')).toBeNull();
  });

  it('a name covers exactly that name; "*.x" exactly that wildcard', () => {
    expect(match('ci.corp.test')).toBe('name ci.corp.test');
    expect(match('a.ci.corp.test')).toBeNull();
    expect(match('*.ci.corp.test')).toBeNull();
    expect(match('*.apps.corp.test')).toBe('name *.apps.corp.test');
    expect(match('x.apps.corp.test')).toBeNull();
  });

  it('a CIDR covers IP identifiers in it (IPv4-mapped forms as IPv4), never DNS names', () => {
    expect(match('10.30.255.1', 'ip')).toBe('cidr 10.30.0.0/16');
    expect(match('::ffff:10.30.0.9', 'ip')).toBe('cidr 10.30.0.0/16');
    expect(match('fd00:30::1', 'ip')).toBe('cidr fd00:30::/32');
    expect(match('10.31.0.1', 'ip')).toBeNull();
    expect(new ScopeMatcher({ cidrs: ['10.0.0.0/8'] }).match(normalizeIdentifier({ type: 'dns', value: '10.1.1.1' }))).toBeNull();
  });

  it('described for eab list; empty scopes are none', () => {
    expect(hasScopes(null)).toBe(false);
    expect(hasScopes({ names: [], suffixes: [] })).toBe(false);
    expect(describeScopes({ suffixes: ['agents.corp.test'], cidrs: ['10.30.0.0/16'] })).toBe('suffixes=agents.corp.test cidrs=10.30.0.0/16');
    expect(describeScopes({})).toBe('-');
  });
});
