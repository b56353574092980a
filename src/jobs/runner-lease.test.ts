import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { cryptoRandom } from '../platform/random.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Job, Store } from '../store/types.js';
import { JobQueue } from './queue.js';
import { JobRunner, type JobHandler } from './runner.js';

// The runner keeps the lease of a job while its handler runs, so a run longer than the lease is
// not taken over by another owner (a second replica), and stops when the run ends or is handed
// back. Renewal runs on real timers (a lease is wall-clock time on the database), so these tests
// use the system clock with short leases and a wide margin: a renewal every third of the lease.

let dir: string;
let store: Store;
afterEach(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('JobRunner lease renewal', () => {
  it('a run three leases long keeps its job until it ends', async () => {
    dir = mkdtempSync(join(tmpdir(), 'runner-'));
    store = openSqliteStore({ path: join(dir, 'db.sqlite') });
    const now = systemClock.nowMs();
    await store.jobs.ensure('issue', 'order-1', { id: 'job-1', runAt: now, deadlineAt: now + 60_000 }, now);

    const leaseMs = 300;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const handler: JobHandler = {
      run: async (job: Job) => {
        started();
        await gate;
        await store.jobs.finish(job.id, 'done', null, systemClock.nowMs());
      },
      giveUp: async () => undefined,
    };
    const queue = new JobQueue({ random: cryptoRandom, deadlines: { validateMs: 60_000, issueMs: 60_000 } });
    const runner = new JobRunner({
      store,
      clock: systemClock,
      logger: silentLogger(),
      owner: 'runner-a',
      concurrency: { issue: 1, validate: 1 },
      leaseMs,
      pollMs: 10,
      queue,
      handlers: { issue: handler, validate: handler },
    });
    runner.start();
    try {
      await running;
      // Well past the first lease: another owner still finds nothing to take over.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, leaseMs));
        expect(await store.jobs.claimDue('runner-b', systemClock.nowMs(), leaseMs, 10)).toEqual([]);
      }
      expect((await store.jobs.get('job-1'))!.state).toBe('running');
      release();
      await queue.waitForRun('issue', 'order-1', 5_000);
      expect((await store.jobs.get('job-1'))!.state).toBe('done');
    } finally {
      await runner.stop(1_000);
    }
  });

  it('stop() hands a job still running back and stops renewing its lease', async () => {
    dir = mkdtempSync(join(tmpdir(), 'runner-'));
    store = openSqliteStore({ path: join(dir, 'db.sqlite') });
    const now = systemClock.nowMs();
    await store.jobs.ensure('issue', 'order-2', { id: 'job-2', runAt: now, deadlineAt: now + 60_000 }, now);
    let renewals = 0;
    const counted: Store = { ...store, jobs: { ...store.jobs, renewLease: (...args) => (renewals++, store.jobs.renewLease(...args)) } };
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const stuck: JobHandler = { run: () => (started(), new Promise<void>(() => undefined)), giveUp: async () => undefined };
    const leaseMs = 300;
    const runner = new JobRunner({
      store: counted,
      clock: systemClock,
      logger: silentLogger(),
      owner: 'runner-a',
      concurrency: { issue: 1, validate: 1 },
      leaseMs,
      pollMs: 10,
      queue: new JobQueue({ random: cryptoRandom, deadlines: { validateMs: 60_000, issueMs: 60_000 } }),
      handlers: { issue: stuck, validate: stuck },
    });
    runner.start();
    await running;
    await new Promise((r) => setTimeout(r, leaseMs));
    expect(renewals).toBeGreaterThan(0);
    await runner.stop(10);
    expect((await store.jobs.get('job-2'))!.state).toBe('queued');
    const after = renewals;
    await new Promise((r) => setTimeout(r, 3 * leaseMs));
    expect(renewals).toBe(after);
  });
});

describe('JobRunner stop() during a claim', () => {
  it('waits for a claim in flight, so the jobs it leased are handed back, not left to a departed owner', async () => {
    dir = mkdtempSync(join(tmpdir(), 'runner-'));
    store = openSqliteStore({ path: join(dir, 'db.sqlite') });
    const now = systemClock.nowMs();
    await store.jobs.ensure('issue', 'order-3', { id: 'job-3', runAt: now, deadlineAt: now + 60_000 }, now);
    // The database answers the claim late (a busy PostgreSQL): stop() is called meanwhile.
    let claimStarted!: () => void;
    const claiming = new Promise<void>((r) => (claimStarted = r));
    const slow: Store = {
      ...store,
      jobs: {
        ...store.jobs,
        claimDue: async (...args) => {
          claimStarted();
          await new Promise((r) => setTimeout(r, 200));
          return store.jobs.claimDue(...args);
        },
      },
    };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handler: JobHandler = { run: async () => gate, giveUp: async () => undefined };
    const runner = new JobRunner({
      store: slow,
      clock: systemClock,
      logger: silentLogger(),
      owner: 'runner-c',
      concurrency: { issue: 1, validate: 1 },
      leaseMs: 60_000,
      pollMs: 10,
      queue: new JobQueue({ random: cryptoRandom, deadlines: { validateMs: 60_000, issueMs: 60_000 } }),
      handlers: { issue: handler, validate: handler },
    });
    runner.start();
    await claiming;
    await runner.stop(50); // the job's handler is still held at the gate: it is handed back
    try {
      await new Promise((r) => setTimeout(r, 400)); // long enough for any claim still in flight to land
      expect((await store.jobs.get('job-3'))!.state).toBe('queued');
      expect(await store.jobs.claimDue('runner-d', systemClock.nowMs(), 1_000, 10)).toHaveLength(1); // another owner gets it at once
    } finally {
      release();
    }
  });
});
