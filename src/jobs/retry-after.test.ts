import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_MAX_S, RETRY_AFTER_MIN_S, RetryAfterEstimate } from './retry-after.js';

// Retry-After for work the gateway has not finished: whole seconds, never 0, growing with the queue.

function estimate(o: { running?: number; active?: number; concurrency?: number } = {}) {
  const running = { n: o.running ?? 0 };
  const counts: number[] = [];
  const e = new RetryAfterEstimate({
    concurrency: { validate: o.concurrency ?? 4, issue: o.concurrency ?? 4 },
    running: () => running.n,
    countActive: async () => {
      counts.push(o.active ?? 0);
      return o.active ?? 0;
    },
  });
  return { e, running, counts };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RetryAfterEstimate', () => {
  it('a free slot and quick work: 1 s, the floor (never 0), without reading the store', () => {
    const { e, counts } = estimate();
    for (let i = 0; i < 10; i++) e.ran('validate', 3);
    expect(e.seconds('validate')).toBe(RETRY_AFTER_MIN_S);
    expect(e.seconds('issue')).toBe(1); // nothing ran yet: a short job is assumed
    expect(counts).toEqual([]);
  });

  it('a free slot and slow work: about one run, in whole seconds', () => {
    const { e } = estimate();
    e.ran('issue', 2_400);
    expect(e.seconds('issue')).toBe(3);
  });

  it('full slots: the work queued ahead drains at `concurrency` jobs per run, capped', async () => {
    const { e, running, counts } = estimate({ concurrency: 2, active: 12 });
    e.ran('issue', 500);
    running.n = 2;
    e.seconds('issue'); // starts the background count
    await settle();
    expect(e.seconds('issue')).toBe(3); // 12 / 2 × 0.5 s
    expect(counts).toHaveLength(1); // read at most once a second
    e.ran('issue', 60_000);
    expect(e.seconds('issue')).toBe(RETRY_AFTER_MAX_S);
  });

  it('a store that fails to count leaves the last answer standing', async () => {
    const e = new RetryAfterEstimate({ concurrency: { validate: 1, issue: 1 }, running: () => 1, countActive: () => Promise.reject(new Error('down')) });
    e.ran('validate', 10);
    expect(e.seconds('validate')).toBe(1);
    await settle();
    expect(e.seconds('validate')).toBe(1);
  });
});
