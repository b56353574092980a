import { describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { PeriodicTasks } from './periodic.js';

// Shutdown closes the database right after housekeeping stops: stop(waitMs) lets a run in progress
// (the PCA audit) end first, for at most waitMs.

describe('PeriodicTasks.stop', () => {
  const slowTask = (ms: number, done: string[]) => ({
    name: 'slow',
    everyMs: 60_000,
    run: async () => {
      await new Promise((r) => setTimeout(r, ms));
      done.push('ran');
    },
  });

  it('waits for a run in progress, up to waitMs', async () => {
    const done: string[] = [];
    const task = slowTask(100, done);
    const tasks = new PeriodicTasks([task], silentLogger());
    const run = tasks.runOnce(task);
    await tasks.stop(5_000);
    expect(done).toEqual(['ran']);
    expect(await run).toBe(true);
  });

  it('gives up waiting after waitMs, and does not wait at all by default', async () => {
    const done: string[] = [];
    const task = slowTask(300, done);
    const tasks = new PeriodicTasks([task], silentLogger());
    void tasks.runOnce(task);
    const started = Date.now();
    await tasks.stop();
    await tasks.stop(50);
    expect(Date.now() - started).toBeLessThan(250);
    expect(done).toEqual([]);
  });
});
