import { describe, expect, it } from 'vitest';
import { lastForwarded } from './client-address.js';

describe('X-Forwarded-For (server.trustProxyHeaders)', () => {
  it('the last entry, which the nearest proxy appended; ports and brackets dropped; anything else is none', () => {
    expect(lastForwarded('203.0.113.9, 192.0.2.1')).toBe('192.0.2.1');
    expect(lastForwarded(' 192.0.2.1 ')).toBe('192.0.2.1');
    expect(lastForwarded('192.0.2.1:4711')).toBe('192.0.2.1');
    expect(lastForwarded('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(lastForwarded('2001:db8::1')).toBe('2001:db8::1');
    expect(lastForwarded('192.0.2.1, unknown')).toBeNull();
    expect(lastForwarded('')).toBeNull();
    expect(lastForwarded(undefined)).toBeNull();
  });
});
