import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Job, Store } from '../store/types.js';
import { JobQueue } from './queue.js';
import { JobRunner, RetryLater, type JobHandler } from './runner.js';

// The job runner's leases and deadlines, on the real SQLite store with a clock that moves only when
// told. Nothing here waits for time to pass: every wait is for an event (a claim made, a handler
// called, a job run ended), and speed is never asserted (that is the benchmark's business).

const T0 = Date.UTC(2030, 0, 1);
const newQueue = () => new JobQueue({ random: { bytes: (n: number) => Buffer.alloc(n, 1) } as never, deadlines: { validateMs: 1, issueMs: 1 } });
const LEASE_MS = 60_000;

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One runner's view of the store: every claim and reschedule it makes is recorded, and can be waited for. */
class ObservedStore {
  readonly claims: { nowMs: number; got: Job[] }[] = [];
  readonly reschedules: boolean[] = [];
  private claimWaiters: { test: (c: { nowMs: number; got: Job[] }) => boolean; d: Deferred<Job[]> }[] = [];
  readonly store: Store;

  constructor(inner: Store) {
    const jobs: Store['jobs'] = {
      ...inner.jobs,
      claimDue: async (owner, nowMs, leaseMs, limit, kind) => {
        const got = await inner.jobs.claimDue(owner, nowMs, leaseMs, limit, kind);
        // The tests queue issue jobs; the runner's claims for validation slots are not theirs to see.
        if (kind === 'validate') return got;
        const claim = { nowMs, got };
        this.claims.push(claim);
        this.claimWaiters = this.claimWaiters.filter((w) => (w.test(claim) ? (w.d.resolve(got), false) : true));
        return got;
      },
      reschedule: async (...a) => {
        const done = await inner.jobs.reschedule(...a);
        this.reschedules.push(done);
        return done;
      },
    };
    this.store = Object.assign(Object.create(inner) as Store, { jobs });
  }

  /** Resolves with what the first claim made at or after `sinceMs` (runner clock) returned. */
  claimAtOrAfter(sinceMs: number): Promise<Job[]> {
    const d = deferred<Job[]>();
    this.claimWaiters.push({ test: (c) => c.nowMs >= sinceMs, d });
    return d.promise;
  }
}

/** A handler whose run and giveUp do what the test scripts, and say when they are called. */
class ScriptedHandler implements JobHandler {
  readonly runs: Job[] = [];
  readonly giveUps: { job: Job; error: unknown }[] = [];
  readonly ran = deferred<Job>();
  readonly gaveUp = deferred<{ job: Job; error: unknown }>();
  run: (job: Job) => Promise<void>;
  giveUp: (job: Job, error: unknown) => Promise<void>;

  constructor(
    store: Store,
    clock: ManualClock,
    script: { run?: (job: Job) => Promise<void>; giveUp?: (job: Job, error: unknown) => Promise<void> } = {},
  ) {
    this.run = async (job) => {
      this.runs.push(job);
      this.ran.resolve(job);
      if (script.run) await script.run(job);
      // The handler's own domain write closes the job (runner.ts).
      await store.jobs.finish(job.id, 'done', null, clock.nowMs());
    };
    this.giveUp = async (job, error) => {
      this.giveUps.push({ job, error });
      this.gaveUp.resolve({ job, error });
      if (script.giveUp) await script.giveUp(job, error);
      await store.jobs.finish(job.id, 'failed', String(error), clock.nowMs());
    };
  }
}

describe('JobRunner', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  const runners: JobRunner[] = [];
  const gates: Deferred[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'job-runner-'));
    store = openSqliteStore({ path: join(dir, 'gw.sqlite') });
    clock = new ManualClock(T0);
  });

  afterEach(async () => {
    for (const g of gates.splice(0)) g.resolve();
    for (const r of runners.splice(0)) await r.stop(0);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A gate a handler waits at: a job "in progress" (or a process that died mid-job) until opened. */
  function gate(): Deferred {
    const g = deferred();
    gates.push(g);
    return g;
  }

  function runner(owner: string, handler: JobHandler, opts: { random?: () => number; events?: JobQueue; concurrency?: number } = {}): { runner: JobRunner; seen: ObservedStore } {
    const seen = new ObservedStore(store);
    const r = new JobRunner({
      store: seen.store,
      clock,
      logger: silentLogger(),
      handlers: { issue: handler, validate: handler },
      owner,
      concurrency: { validate: opts.concurrency ?? 4, issue: opts.concurrency ?? 4 },
      leaseMs: LEASE_MS,
      pollMs: 1,
      backoffBaseMs: 1000,
      backoffMaxMs: 60_000,
      random: opts.random ?? (() => 0),
      queue: opts.events ?? newQueue(),
    });
    runners.push(r);
    r.start();
    return { runner: r, seen };
  }

  async function queue(subject: string, deadlineAt = T0 + 3_600_000): Promise<Job> {
    expect(await store.jobs.ensure('issue', subject, { id: `job-${subject}`, runAt: T0, deadlineAt }, T0)).toBe(true);
    return (await store.jobs.get(`job-${subject}`))!;
  }

  describe('leases', () => {
    it('a job whose lease is held is not claimed by another runner, up to the last millisecond of the lease', async () => {
      const job = await queue('held');
      const inProgress = gate();
      const a = new ScriptedHandler(store, clock, { run: () => inProgress.promise });
      runner('A', a);
      expect((await a.ran.promise).id).toBe(job.id);

      const b = new ScriptedHandler(store, clock);
      const { seen } = runner('B', b);
      expect(await seen.claimAtOrAfter(T0)).toEqual([]);
      clock.advance(LEASE_MS - 1);
      expect(await seen.claimAtOrAfter(T0 + LEASE_MS - 1)).toEqual([]);
      expect(b.runs).toHaveLength(0);
      expect(a.runs).toHaveLength(1);
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'running', attempts: 1 });
    });

    it('an expired lease (its runner died) is claimable again, by another runner', async () => {
      const job = await queue('orphaned');
      // A runner that claimed the job and then died: its lease stays until it expires.
      expect((await store.jobs.claimDue('dead', T0, LEASE_MS, 10)).map((j) => j.id)).toEqual([job.id]);

      const b = new ScriptedHandler(store, clock);
      const { seen } = runner('B', b);
      clock.advance(LEASE_MS + 1);
      const taken = await seen.claimAtOrAfter(T0 + LEASE_MS + 1);
      expect(taken.map((j) => [j.id, j.attempts])).toEqual([[job.id, 2]]);
      expect((await b.ran.promise).id).toBe(job.id);
    });

    it('a runner whose lease was taken over cannot reschedule the job: the new holder keeps it', async () => {
      const job = await queue('taken-over');
      const slow = deferred();
      const aEvents = newQueue();
      const aDone = aEvents.waitForRun('issue', 'taken-over', 10_000);
      const a = new ScriptedHandler(store, clock, {
        run: async () => {
          await slow.promise;
          throw new Error('first runner failed late');
        },
      });
      // One slot, busy with this job: A cannot re-claim it itself once its lease has expired.
      const { seen: aSeen } = runner('A', a, { events: aEvents, concurrency: 1 });
      await a.ran.promise;

      clock.advance(LEASE_MS + 1);
      const holding = gate();
      const b = new ScriptedHandler(store, clock, { run: () => holding.promise });
      runner('B', b);
      await b.ran.promise;

      slow.resolve();
      await aDone;
      expect(aSeen.reschedules).toEqual([false]);
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'running', attempts: 2, lastError: null });
      // Still B's lease: nobody else may take it.
      expect(await store.jobs.claimDue('C', clock.nowMs(), LEASE_MS, 10)).toEqual([]);
    });
  });

  describe('deadlines', () => {
    it('a job claimed past its deadline is given up without running', async () => {
      const job = await queue('late', T0 + 1000);
      clock.advance(2000);
      const h = new ScriptedHandler(store, clock);
      const events = newQueue();
      const ended = events.waitForRun('issue', 'late', 10_000);
      runner('A', h, { events });
      await ended;
      expect(h.runs).toHaveLength(0);
      expect(h.giveUps.map(({ job: j, error }) => [j.id, (error as Error).message])).toEqual([[job.id, 'deadline passed']]);
    });

    it('a failure whose retry would land past the deadline gives up with that failure', async () => {
      // random 0 → half the backoff: 1000 ms * 2^0 * 0.5 = 500 ms after the failure, past T0 + 400.
      await queue('no-time-left', T0 + 400);
      const boom = new Error('PCA down');
      const h = new ScriptedHandler(store, clock, { run: () => Promise.reject(boom) });
      const events = newQueue();
      const ended = events.waitForRun('issue', 'no-time-left', 10_000);
      const { seen } = runner('A', h, { events });
      await ended;
      expect(h.runs).toHaveLength(1);
      expect(h.giveUps.map((g) => g.error)).toEqual([boom]);
      expect(seen.reschedules).toEqual([]);
    });

    it('a failure whose retry fits before the deadline is rescheduled with backoff, not given up', async () => {
      const job = await queue('time-left', T0 + 600);
      const events = newQueue();
      const done = events.waitForRun('issue', 'time-left', 10_000);
      const h = new ScriptedHandler(store, clock, { run: () => Promise.reject(new Error('PCA down')) });
      const { seen } = runner('A', h, { events });
      await done;
      expect(seen.reschedules).toEqual([true]);
      expect(h.giveUps).toHaveLength(0);
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'queued', runAt: T0 + 500, lastError: 'PCA down', attempts: 1 });
    });

    it("RetryLater's own delay counts against the deadline, without jitter", async () => {
      const fits = await queue('retry-fits', T0 + 5000);
      const tooLate = await queue('retry-too-late', T0 + 5000);
      const events = newQueue();
      const ended = Promise.all([events.waitForRun('issue', 'retry-fits', 10_000), events.waitForRun('issue', 'retry-too-late', 10_000)]);
      const h = new ScriptedHandler(store, clock, {
        run: (job) => Promise.reject(new RetryLater('waiting', job.id === fits.id ? 5000 : 5001)),
      });
      runner('A', h, { random: () => 0.99, events });
      await ended;
      expect(h.giveUps.map((g) => g.job.id)).toEqual([tooLate.id]);
      expect(await store.jobs.get(fits.id)).toMatchObject({ state: 'queued', runAt: T0 + 5000, lastError: 'waiting' });
    });

    it('a giveUp that fails leaves the job leased, so it is given up again once the lease expires', async () => {
      const job = await queue('give-up-fails', T0 + 1000);
      clock.advance(2000);
      let failing = true;
      const h = new ScriptedHandler(store, clock, {
        giveUp: async () => {
          if (failing) throw new Error('store unavailable');
        },
      });
      const events = newQueue();
      const first = events.waitForRun('issue', 'give-up-fails', 10_000);
      const { seen } = runner('A', h, { events });
      await first;
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'running', attempts: 1 });
      expect(seen.reschedules).toEqual([]);
      expect(h.runs).toHaveLength(0);

      failing = false;
      const second = events.waitForRun('issue', 'give-up-fails', 10_000);
      clock.advance(LEASE_MS + 1);
      await second;
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'failed', attempts: 2 });
      expect(h.runs).toHaveLength(0);
    });
  });

  describe('kicks', () => {
    it('work queued after the runner started is claimed on the kick, not at the next poll (an hour away here)', async () => {
      const events = newQueue();
      const h = new ScriptedHandler(store, clock);
      const r = new JobRunner({
        store,
        clock,
        logger: silentLogger(),
        handlers: { issue: h, validate: h },
        owner: 'K',
        concurrency: { validate: 1, issue: 1 },
        pollMs: 3_600_000,
        queue: events,
      });
      runners.push(r);
      r.start();
      // Let the first tick pass and find nothing; the next one is an hour away unless kicked.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const job = await queue('kicked');
      const ran = events.waitForRun('issue', 'kicked', 3_600_000);
      events.kick();
      await ran;
      expect(h.runs.map((j) => j.id)).toEqual([job.id]);
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'done', attempts: 1 });
    });

    it('tells clients 1 s while a kind has free slots, and more once its slots are full and work waits', async () => {
      const busy = gate();
      const events = newQueue();
      const h = new ScriptedHandler(store, clock, { run: () => busy.promise });
      const { runner: r } = runner('R', h, { events, concurrency: 1 });
      expect(r.retryAfterSeconds('issue')).toBe(1);
      await queue('first');
      await h.ran.promise;
      for (const s of ['second', 'third', 'fourth']) await queue(s);
      // One slot, busy; the backlog is read from the store in the background, at most once a second.
      expect(r.retryAfterSeconds('issue')).toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 200 && r.retryAfterSeconds('issue') === 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(r.retryAfterSeconds('issue')).toBeGreaterThan(1);
      expect(r.retryAfterSeconds('issue')).toBeLessThanOrEqual(10);
      expect(r.retryAfterSeconds('validate')).toBe(1);
    });
  });

  describe('jobs started by the process that writes them (JobQueue.startJob)', () => {
    let n = 0;
    // Distinct job ids (newQueue's random repeats itself).
    const distinctQueue = () => new JobQueue({ random: { bytes: (k: number) => Buffer.alloc(k, ++n) } as never, deadlines: { validateMs: 1, issueMs: 3_600_000 } });
    /** The store's ensure() as the write a use case makes (its own intent inserts the job the same way). */
    async function write(q: JobQueue, subject: string, take = true) {
      const job = q.startJob('issue', clock.now());
      let written = false;
      try {
        if (take) written = await store.jobs.ensure('issue', subject, job, clock.nowMs());
      } finally {
        q.started('issue', subject, job, written);
      }
      return job;
    }

    it('a job written with a free slot runs at once, leased to this runner, without a claim', async () => {
      const events = distinctQueue();
      const h = new ScriptedHandler(store, clock);
      const { seen } = runner('S', h, { events, concurrency: 1 });
      await seen.claimAtOrAfter(T0); // the start-up tick: nothing queued yet
      const claimsBefore = seen.claims.length;
      const ran = events.waitForRun('issue', 'direct', 10_000);
      const job = await write(events, 'direct');
      expect(job.lease).toEqual({ owner: 'S', untilMs: T0 + LEASE_MS });
      await ran;
      expect(h.runs.map((j) => [j.id, j.state, j.attempts])).toEqual([[job.id, 'running', 1]]);
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'done', attempts: 1 });
      // The tick after the run finds nothing; no claim of this job was made.
      expect(seen.claims.slice(claimsBefore).flatMap((c) => c.got)).toEqual([]);
    });

    it('while the kind is full the job is written queued and claimed when the slot frees; a write not taken frees its slot', async () => {
      const busy = gate();
      const events = distinctQueue();
      const h = new ScriptedHandler(store, clock, { run: (j) => (j.subjectId === 'first' ? busy.promise : Promise.resolve()) });
      runner('F', h, { events, concurrency: 1 });
      const first = await write(events, 'first');
      expect(first.lease).toBeDefined();
      await h.ran.promise;
      const second = await write(events, 'second');
      expect(second.lease).toBeUndefined();
      expect(await store.jobs.get(second.id)).toMatchObject({ state: 'queued', attempts: 0 });
      const secondRan = events.waitForRun('issue', 'second', 10_000);
      busy.resolve();
      await secondRan;
      expect(await store.jobs.get(second.id)).toMatchObject({ state: 'done', attempts: 1 });
      // The slot is free again: a write that was refused gives its reservation back…
      const refused = await write(events, 'refused', false);
      expect(refused.lease).toBeDefined();
      expect(await store.jobs.get(refused.id)).toBeNull();
      // …so the next write still gets the one slot.
      const third = await write(events, 'third');
      expect(third.lease).toBeDefined();
      await events.waitForRun('issue', 'third', 10_000);
      expect(h.runs.map((j) => j.subjectId)).toEqual(['first', 'second', 'third']);
    });

    it('a job written while the runner stops is handed back queued, not run', async () => {
      const events = distinctQueue();
      const h = new ScriptedHandler(store, clock);
      const { runner: r } = runner('X', h, { events });
      const job = events.startJob('issue', clock.now());
      expect(job.lease).toBeDefined();
      expect(await store.jobs.ensure('issue', 'late', job, clock.nowMs())).toBe(true);
      await r.stop(0);
      events.started('issue', 'late', job, true);
      for (let i = 0; i < 100 && (await store.jobs.get(job.id))?.state !== 'queued'; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'queued' });
      expect(h.runs).toEqual([]);
      // A stopped runner reserves nothing.
      expect(events.startJob('issue', clock.now()).lease).toBeUndefined();
    });

    it('a job whose leased write commits after the runner stopped is handed back with its attempt taken back', async () => {
      const events = distinctQueue();
      const h = new ScriptedHandler(store, clock);
      const { runner: r } = runner('X', h, { events });
      const job = events.startJob('issue', clock.now());
      await r.stop(0);
      // The write lands after the stop's hand-back of running jobs: only the hand-back of this job sees it.
      expect(await store.jobs.ensure('issue', 'later', job, clock.nowMs())).toBe(true);
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'running', attempts: 1 });
      events.started('issue', 'later', job, true);
      for (let i = 0; i < 100 && (await store.jobs.get(job.id))?.state !== 'queued'; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
      expect(h.runs).toEqual([]);
    });
  });
});
