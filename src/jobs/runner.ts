import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Job, JobKind, Store } from '../store/types.js';
import type { JobQueue } from './queue.js';
import { RetryAfterEstimate } from './retry-after.js';

// Durable background work. Jobs live in the database; a runner claims due jobs with a lease, runs
// their handler, and the handler's own domain write closes the job. A handler that throws gets the
// job rescheduled with backoff, and past its deadline the handler's giveUp ends the subject with a
// problem: background work always ends (ARCHITECTURE.md).

export interface JobHandler {
  run(job: Job): Promise<void>;
  /** Called when the job's deadline passed or the error cannot be retried: end the subject, with a problem. */
  giveUp(job: Job, error: unknown): Promise<void>;
}

/** Thrown by a handler to ask for a later retry without logging an error. */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
  ) {
    super(message);
  }
}

/**
 * How long a claimed job stays leased to its runner without a renewal. The lease is renewed every
 * third of it while the job runs, so its length only bounds how long the jobs of a replica that
 * died (SIGKILL, a lost machine) wait before another replica takes them over: a client polling an
 * order or a challenge it held sees it settle within about this long, well inside the minute or
 * so that certbot and lego keep polling. Two renewals in a row may fail before the lease is lost.
 */
const DEFAULT_LEASE_MS = 20_000;

export interface JobRunnerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** A kind without a handler (notify, when no webhook is configured) is never claimed. */
  handlers: Partial<Record<JobKind, JobHandler>>;
  owner: string;
  /** Jobs of each kind run at once, at most: validations and PCA calls are limited separately. */
  concurrency: Partial<Record<JobKind, number>>;
  leaseMs?: number;
  pollMs?: number;
  /** Backoff for retries: base * 2^(attempts-1), capped, with full jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  /** Kicks the runner when work is queued; told after every job run (wakes finalize requests waiting on it). */
  queue: JobQueue;
  /** acme_job_runs_total{kind,outcome} moves after every run. */
  metrics?: Metrics;
}

export class JobRunner {
  private running = false;
  private readonly active = new Set<Promise<void>>();
  private readonly activeByKind = new Map<JobKind, number>();
  /** Stops the lease renewal of each job in flight. */
  private readonly renewals = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private claiming = false;
  /** Settles when the claim in progress (if any) has launched what it claimed. */
  private claimDone: Promise<void> = Promise.resolve();
  private rerun = false;
  private readonly estimate: RetryAfterEstimate;

  constructor(private readonly o: JobRunnerOptions) {
    o.queue.onKick(() => this.kick());
    o.queue.setStarter({
      reserve: (kind) => this.reserve(kind),
      launch: (job) => this.launchReserved(job),
      release: (kind) => this.releaseSlot(kind),
    });
    this.estimate = new RetryAfterEstimate({
      concurrency: o.concurrency,
      running: (kind) => this.activeByKind.get(kind) ?? 0,
      countActive: () => o.store.jobs.countActive(),
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // The owner is what the jobs table names as lease_owner: this line says which replica that is.
    this.o.logger.info({ owner: this.o.owner }, 'job runner started');
    this.schedule(0);
  }

  /** Look for work now (after a write queued a job). */
  kick(): void {
    if (this.running) this.schedule(0);
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Retry-After, in whole seconds, for a client waiting on work of this kind (jobs/retry-after.ts). */
  retryAfterSeconds(kind: JobKind): number {
    return this.estimate.seconds(kind);
  }

  /** Stop claiming; wait for in-flight jobs up to deadlineMs, then hand the rest back. */
  async stop(deadlineMs: number): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    // A claim still in flight would lease jobs after releaseAll below, to an owner that is gone:
    // another replica could take them only when the lease runs out. Its jobs are ours to finish or hand back.
    await this.claimDone;
    const all = Promise.allSettled([...this.active]);
    await Promise.race([all, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    // The jobs still running are handed back: their leases are no longer ours to renew.
    for (const stopRenewing of this.renewals) stopRenewing();
    await this.o.store.jobs.releaseAll(this.o.owner, this.o.clock.nowMs());
  }

  /**
   * A kick (work just queued, or a job just ended) runs on the next turn of the event loop: a
   * 0 ms timer would wait a whole millisecond, which the client of a few-millisecond validation sees.
   */
  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (delay === 0) {
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        void this.tick();
      });
      this.immediate.unref?.();
      return;
    }
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    if (this.claiming) {
      this.rerun = true;
      return;
    }
    this.claiming = true;
    let claimed!: () => void;
    this.claimDone = new Promise<void>((resolve) => (claimed = resolve));
    try {
      for (const kind of Object.keys(this.o.concurrency) as JobKind[]) {
        if (!this.o.handlers[kind]) continue;
        const free = (this.o.concurrency[kind] ?? 0) - (this.activeByKind.get(kind) ?? 0);
        if (free <= 0) continue;
        const jobs = await this.o.store.jobs.claimDue(this.o.owner, this.o.clock.nowMs(), this.o.leaseMs ?? DEFAULT_LEASE_MS, free, kind);
        for (const job of jobs) this.launch(job);
      }
    } catch (err) {
      this.o.logger.error({ err }, 'job claim failed');
    } finally {
      this.claiming = false;
      claimed();
    }
    if (!this.running) return;
    if (this.rerun) {
      this.rerun = false;
      this.schedule(0);
    } else {
      this.schedule(this.o.pollMs ?? 500);
    }
  }

  /**
   * A slot for a job that the process is about to write leased to this runner (JobQueue.startJob):
   * counted as running from now, so the kind's concurrency holds while the write is on its way.
   */
  private reserve(kind: JobKind): { owner: string; leaseMs: number } | null {
    if (!this.running || !this.o.handlers[kind]) return null;
    const active = this.activeByKind.get(kind) ?? 0;
    if (active >= (this.o.concurrency[kind] ?? 0)) return null;
    this.activeByKind.set(kind, active + 1);
    return { owner: this.o.owner, leaseMs: this.o.leaseMs ?? DEFAULT_LEASE_MS };
  }

  private releaseSlot(kind: JobKind): void {
    this.activeByKind.set(kind, (this.activeByKind.get(kind) ?? 1) - 1);
  }

  /** A job written leased to this runner, in the slot reserve() held for it. */
  private launchReserved(job: Job): void {
    if (this.running) {
      this.launch(job, true);
      return;
    }
    // Stopped between the reservation and the write: hand the job back to be claimed (here after a
    // restart, or by another replica) instead of running it without a runner that renews its lease.
    this.releaseSlot(job.kind);
    const now = this.o.clock.nowMs();
    this.o.store.jobs.handBack(job.id, this.o.owner, 'the runner stopped before the job started', now).catch((err: unknown) => {
      this.o.logger.warn({ jobId: job.id, err: (err as Error).message }, 'could not hand back a job written during shutdown; its lease will run out');
    });
  }

  private launch(job: Job, slotHeld = false): void {
    if (!slotHeld) this.activeByKind.set(job.kind, (this.activeByKind.get(job.kind) ?? 0) + 1);
    const stopRenewing = this.renewWhileRunning(job);
    this.renewals.add(stopRenewing);
    const startedAt = performance.now();
    const p = this.execute(job).finally(() => {
      this.estimate.ran(job.kind, performance.now() - startedAt);
      stopRenewing();
      this.renewals.delete(stopRenewing);
      this.active.delete(p);
      this.activeByKind.set(job.kind, this.activeByKind.get(job.kind)! - 1);
      this.o.queue.ran(job.kind, job.subjectId);
      this.kick();
    });
    this.active.add(p);
  }

  /**
   * Keeps the job's lease while its handler runs, renewing at a third of the lease so that a slow
   * run (a PCA that answers late) is not taken over by another replica; a dead process stops
   * renewing and its jobs are taken over once the lease runs out. A lost lease is only logged: the
   * handler's writes are conditional, so a run that another owner took over cannot settle twice.
   */
  private renewWhileRunning(job: Job): () => void {
    const leaseMs = this.o.leaseMs ?? DEFAULT_LEASE_MS;
    const timer = setInterval(() => {
      const now = this.o.clock.nowMs();
      this.o.store.jobs.renewLease(job.id, this.o.owner, now + leaseMs, now).then(
        (held) => {
          if (!held) {
            clearInterval(timer);
            this.o.logger.warn({ jobId: job.id, kind: job.kind, subject: job.subjectId }, 'job lease lost while running; another owner may run it');
          }
        },
        (err: unknown) => this.o.logger.warn({ jobId: job.id, err: (err as Error).message }, 'job lease renewal failed; retrying at the next interval'),
      );
    }, Math.max(1, Math.floor(leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  private async execute(job: Job): Promise<void> {
    const outcome = await this.runOnce(job);
    this.o.metrics?.jobRuns.inc({ kind: job.kind, outcome });
  }

  private async runOnce(job: Job): Promise<'done' | 'retry' | 'gave_up'> {
    const handler = this.o.handlers[job.kind]!; // tick claims only kinds that have one
    const log = this.o.logger.child({ jobId: job.id, kind: job.kind, subject: job.subjectId, attempt: job.attempts });
    if (this.o.clock.nowMs() > job.deadlineAt) {
      await this.giveUp(job, handler, new Error('deadline passed'), log);
      return 'gave_up';
    }
    try {
      await handler.run(job);
      return 'done';
    } catch (err) {
      const now = this.o.clock.nowMs();
      const base = this.o.backoffBaseMs ?? 1000;
      const cap = this.o.backoffMaxMs ?? 60_000;
      const exp = Math.min(cap, base * 2 ** Math.max(0, job.attempts - 1));
      const delay = err instanceof RetryLater && err.delayMs !== undefined ? err.delayMs : Math.round(exp * (0.5 + 0.5 * (this.o.random ?? Math.random)()));
      const message = err instanceof Error ? err.message : String(err);
      if (now + delay > job.deadlineAt) {
        log.warn({ err: message }, 'job gives up: deadline reached');
        await this.giveUp(job, handler, err, log);
        return 'gave_up';
      }
      if (err instanceof RetryLater) log.info({ reason: message, delayMs: delay }, 'job retry scheduled');
      else log.warn({ err: message, delayMs: delay }, 'job failed; retry scheduled');
      await this.o.store.jobs.reschedule(job.id, this.o.owner, now + delay, message, now);
      return 'retry';
    }
  }

  /** Ends the subject with a problem; if that write fails, the job stays leased and is taken up again when the lease runs out. */
  private async giveUp(job: Job, handler: JobHandler, cause: unknown, log: Logger): Promise<void> {
    try {
      await handler.giveUp(job, cause);
    } catch (giveUpErr) {
      log.error({ err: giveUpErr }, 'giving up failed; the job stays leased and will be retried');
    }
  }

}
