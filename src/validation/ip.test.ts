import { describe, expect, it } from 'vitest';
import { formatHostPort, ipToBytes, reverseDnsName, sameIp } from './ip.js';

describe('IP identifier helpers', () => {
  it('builds reverse-DNS names for SNI (RFC 8738 §6)', () => {
    expect(reverseDnsName('192.0.2.5')).toBe('5.2.0.192.in-addr.arpa');
    expect(reverseDnsName('2001:db8::567:89ab')).toBe('b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
    expect(reverseDnsName('::1')).toBe(`1${'.0'.repeat(31)}.ip6.arpa`);
    expect(() => reverseDnsName('example.com')).toThrow();
  });

  it('compares any spellings of the same address', () => {
    expect(sameIp('::1', '0:0:0:0:0:0:0:1')).toBe(true);
    expect(sameIp('2001:DB8::1', '2001:db8:0::0:1')).toBe(true);
    expect(sameIp('::ffff:192.0.2.1', '::ffff:c000:201')).toBe(true);
    expect(sameIp('127.0.0.1', '127.0.0.2')).toBe(false);
    expect(sameIp('127.0.0.1', '::ffff:127.0.0.1')).toBe(false);
    expect(sameIp('127.0.0.1', 'localhost')).toBe(false);
  });

  it('parses to 4 or 16 bytes', () => {
    expect(ipToBytes('10.1.2.3')).toEqual(Buffer.from([10, 1, 2, 3]));
    expect(ipToBytes('1::')?.toString('hex')).toBe('0001' + '0'.repeat(28));
    expect(ipToBytes('not-an-ip')).toBeUndefined();
  });

  it('brackets IPv6 in host:port', () => {
    expect(formatHostPort('::1', 443)).toBe('[::1]:443');
    expect(formatHostPort('127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(formatHostPort('example.test', 80)).toBe('example.test:80');
  });
});
