import { describe, expect, it } from 'vitest';
import { pooledCryptoRandom } from './random.js';

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
