import { describe, expect, it } from 'vitest';
import { pooledCryptoRandom, timeOrderedId, type Random } from './random.js';

describe('pooledCryptoRandom', () => {
  it('hands out each pooled byte once, across refills, in the lengths asked for', () => {
    const random = pooledCryptoRandom();
    const seen = new Set<string>();
    // 12-byte ids: 341 fit in one 4 KiB pool, so this crosses several refills and a partial tail.
    for (let i = 0; i < 2000; i++) {
      const b = random.bytes(12);
      expect(b.length).toBe(12);
      seen.add(b.toString('hex'));
    }
    expect(seen.size).toBe(2000);
    const chunks = [random.bytes(1), random.bytes(64), random.bytes(65), random.bytes(4096)];
    expect(chunks.map((c) => c.length)).toEqual([1, 64, 65, 4096]);
  });

  it('returns buffers of their own: a later call does not change an earlier result', () => {
    const random = pooledCryptoRandom();
    const first = random.bytes(16);
    const copy = Buffer.from(first);
    for (let i = 0; i < 600; i++) random.bytes(16); // past a refill of the pool
    expect(first.equals(copy)).toBe(true);
  });

  it('two sources do not repeat each other', () => {
    expect(pooledCryptoRandom().bytes(32).equals(pooledCryptoRandom().bytes(32))).toBe(false);
  });
});

describe('timeOrderedId', () => {
  const fixed = (byte: number): Random => ({ bytes: (n) => Buffer.alloc(n, byte) });
  /** Decodes the 26 characters back to the time and the 10 random bytes (the test's own base32 reading). */
  function decode(id: string): { ms: number; bytes: Buffer } {
    const values = [...id].map((c) => '0123456789abcdefghjkmnpqrstvwxyz'.indexOf(c));
    expect(values.every((v) => v >= 0)).toBe(true);
    const ms = values.slice(0, 10).reduce((acc, v) => acc * 32 + v, 0);
    let bits = values.slice(10).map((v) => v.toString(2).padStart(5, '0')).join('');
    const bytes = Buffer.alloc(10);
    for (let i = 0; i < 10; i++, bits = bits.slice(8)) bytes[i] = parseInt(bits.slice(0, 8), 2);
    return { ms, bytes };
  }

  it('is 26 characters of lowercase base32 holding the millisecond and the 80 random bits it was given', () => {
    const random: Random = { bytes: (n) => Buffer.from([0xff, 0x00, 0x80, 0x01, 0xfe, 0x7f, 0x10, 0x20, 0x40, 0xaa].slice(0, n)) };
    const ms = Date.UTC(2026, 11, 2, 7, 45, 1, 234);
    const id = timeOrderedId(random, ms);
    expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    expect(decode(id)).toEqual({ ms, bytes: Buffer.from([0xff, 0x00, 0x80, 0x01, 0xfe, 0x7f, 0x10, 0x20, 0x40, 0xaa]) });
    expect(decode(timeOrderedId(fixed(0), 0))).toEqual({ ms: 0, bytes: Buffer.alloc(10) });
    expect(timeOrderedId(fixed(0xff), 2 ** 48 - 1)).toBe('7zzzzzzzzzzzzzzzzzzzzzzzzz');
  });

  it('sorts by creation time, bytewise and under a locale collation alike, whatever the random part', () => {
    const times = [0, 1, 31, 32, 1023, 1024, Date.UTC(2020, 0, 1), Date.UTC(2026, 11, 2), Date.UTC(2026, 11, 2) + 1, Date.UTC(2100, 0, 1)];
    const ids = times.map((t, i) => timeOrderedId(fixed(255 - i * 25), t));
    expect([...ids].sort()).toEqual(ids);
    expect([...ids].sort((a, b) => a.localeCompare(b, 'en'))).toEqual(ids);
  });

  it('differs within one millisecond by its random part', () => {
    const random = pooledCryptoRandom();
    const seen = new Set(Array.from({ length: 1000 }, () => timeOrderedId(random, 1_700_000_000_000)));
    expect(seen.size).toBe(1000);
    expect([...seen].every((id) => id.startsWith(timeOrderedId(fixed(0), 1_700_000_000_000).slice(0, 10)))).toBe(true);
  });
});
