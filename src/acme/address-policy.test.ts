import { describe, expect, it } from 'vitest';
import { AddressPolicy } from './address-policy.js';
import { parseAddress, parseCidr } from './cidr.js';

describe('parseAddress / parseCidr', () => {
  it('reads IPv4-mapped and NAT64 IPv6 addresses as the IPv4 address they reach', () => {
    expect(parseAddress('::ffff:169.254.169.254')).toEqual(parseAddress('169.254.169.254'));
    expect(parseAddress('::ffff:a9fe:a9fe')).toEqual(parseAddress('169.254.169.254'));
    expect(parseAddress('64:ff9b::169.254.169.254')).toEqual(parseAddress('169.254.169.254'));
    expect(parseAddress('[::1]')).toEqual({ family: 6, value: 1n });
    expect(parseAddress('fe80::1%eth0')).toBeNull();
    expect(parseAddress('not-an-ip')).toBeNull();
  });

  it('parses ranges, clears host bits, and refuses bad prefixes', () => {
    expect(parseCidr('10.20.30.40/16').network).toBe(parseAddress('10.20.0.0')!.value);
    expect(parseCidr('::ffff:10.0.0.0/104')).toMatchObject({ family: 4, prefix: 8 });
    expect(parseCidr('192.0.2.1')).toMatchObject({ family: 4, prefix: 32 });
    for (const bad of ['10.0.0.0/33', '::/129', 'x/8', '10.0.0.0/8/1', '10.0.0.0/-1']) expect(() => parseCidr(bad)).toThrow();
  });
});

describe('AddressPolicy', () => {
  const defaults = new AddressPolicy();

  it.each([
    ['169.254.169.254', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
  ])('denies %s by default (%s), naming the range', (address, why) => {
    const verdict = defaults.check(address);
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) expect(verdict.reason).toContain(why);
  });

  it.each(['10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', '8.8.8.8', 'fd12:3456::1', '2001:db8::1'])('allows %s by default', (address) => {
    expect(defaults.check(address)).toEqual({ allowed: true });
  });

  it('trial mode opens 127.0.0.1 and ::1 only, not the rest of loopback', () => {
    const trial = new AddressPolicy({ trialLoopback: true });
    expect(trial.check('127.0.0.1')).toEqual({ allowed: true });
    expect(trial.check('::1')).toEqual({ allowed: true });
    expect(trial.check('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(trial.check('127.0.0.2').allowed).toBe(false);
    expect(trial.check('0.0.0.0').allowed).toBe(false);
    expect(trial.check('169.254.169.254').allowed).toBe(false);
  });

  it('the most specific range decides; the operator\'s deny wins a tie', () => {
    const p = new AddressPolicy({ deniedCidrs: ['10.0.0.0/8', '192.0.2.0/24'], allowedCidrs: ['10.20.0.0/16', '192.0.2.0/24'] });
    expect(p.check('10.20.1.1')).toEqual({ allowed: true });
    const denied = p.check('10.30.1.1');
    expect(denied).toEqual({ allowed: false, reason: '10.30.1.1 is in 10.0.0.0/8 (validation.deniedCidrs)' });
    expect(p.check('192.0.2.7').allowed).toBe(false);
  });

  it('an operator can open a default-denied address, and close a private range', () => {
    expect(new AddressPolicy({ allowedCidrs: ['169.254.10.0/24'] }).check('169.254.10.5')).toEqual({ allowed: true });
    expect(new AddressPolicy({ deniedCidrs: ['172.16.0.0/12'] }).check('172.20.0.1').allowed).toBe(false);
  });

  it('refuses what is not an address, and a bad range at construction', () => {
    expect(defaults.check('example.com').allowed).toBe(false);
    expect(() => new AddressPolicy({ allowedCidrs: ['10.0.0.0/99'] })).toThrow(/prefix/);
  });
});
