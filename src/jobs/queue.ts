import { timeOrderedId, type Random } from '../platform/random.js';
import type { Job, JobKind, NewJob } from '../store/types.js';
import { JobEvents } from './events.js';

// The job queue the use cases talk to (it satisfies the JobQueue port of services/ports.ts, checked
// where deps.ts hands it over): it makes job records with their deadlines
// (the one place every job deadline is set, for new work and for start-up recovery alike), wakes the
// runner, and tells waiters when a job has run in this process.

export interface JobDeadlines {
  /** A validation always ends within this (RFC 8555 §7.5.1: the challenge becomes valid or invalid). */
  validateMs: number;
  /** How long an order may keep retrying the PCA before it ends invalid (pca.issuanceDeadlineMs). */
  issueMs: number;
  /** How long a webhook delivery keeps being retried (default a day). */
  notifyMs?: number;
}

/** The runner's side of a job started by the process that creates it (JobQueue.startJob). */
export interface JobStarter {
  /** A slot of this kind held for a job about to be written, with the lease to write; null when none is free (or the runner stopped). */
  reserve(kind: JobKind): { owner: string; leaseMs: number } | null;
  /** The job was written leased to this runner: run it now, in the slot reserved for it. */
  launch(job: Job): void;
  /** The write did not happen: give the slot back. */
  release(kind: JobKind): void;
}

export const DEFAULT_VALIDATION_DEADLINE_MS = 5 * 60_000;
export const DEFAULT_NOTIFY_DEADLINE_MS = 24 * 3_600_000;

export class JobQueue {
  private readonly events = new JobEvents();
  private readonly kickListeners = new Set<() => void>();
  private starter: JobStarter | null = null;

  constructor(
    private readonly o: { random: Random; deadlines: JobDeadlines },
  ) {}

  newJob(kind: JobKind, now: Date): NewJob {
    const runAt = now.getTime();
    return { id: timeOrderedId(this.o.random, runAt), runAt, deadlineAt: runAt + this.deadlineMs(kind) };
  }

  /**
   * The record of a job that this process runs itself as soon as the write taking it commits: leased
   * to the runner when it has a free slot of this kind, queued (for a claim) when it has none. Hand it
   * to `started` after the write, whether or not the write took it.
   */
  startJob(kind: JobKind, now: Date): NewJob {
    const job = this.newJob(kind, now);
    const slot = this.starter?.reserve(kind);
    return slot ? { ...job, lease: { owner: slot.owner, untilMs: job.runAt + slot.leaseMs } } : job;
  }

  /** After the write of a job from startJob: run it (leased), wake the runner (queued), or free its slot (not written). */
  started(kind: JobKind, subjectId: string, job: NewJob, written: boolean): void {
    if (!job.lease) {
      if (written) this.kick();
      return;
    }
    if (!written || !this.starter) {
      this.starter?.release(kind);
      return;
    }
    // On the check phase of this turn of the event loop, as a kick would: the request that wrote the
    // job subscribes to its end (waitForRun) first, even when the job ends without any I/O.
    const starter = this.starter;
    const record: Job = {
      id: job.id,
      kind,
      subjectId,
      state: 'running',
      attempts: 1,
      runAt: job.runAt,
      deadlineAt: job.deadlineAt,
      lastError: null,
      createdAt: job.runAt,
      payload: null,
    };
    setImmediate(() => starter.launch(record));
  }

  /** The runner registers here to run the jobs of startJob itself. */
  setStarter(starter: JobStarter): void {
    this.starter = starter;
  }

  deadlineMs(kind: JobKind): number {
    if (kind === 'notify') return this.o.deadlines.notifyMs ?? DEFAULT_NOTIFY_DEADLINE_MS;
    return kind === 'issue' ? this.o.deadlines.issueMs : this.o.deadlines.validateMs;
  }

  kick(): void {
    for (const listener of this.kickListeners) listener();
  }

  /** The runner subscribes here; returns the unsubscribe function. */
  onKick(listener: () => void): () => void {
    this.kickListeners.add(listener);
    return () => this.kickListeners.delete(listener);
  }

  waitForRun(kind: JobKind, subjectId: string, timeoutMs: number): Promise<void> {
    return this.events.wait(kind, subjectId, timeoutMs);
  }

  /** Shutdown has begun: requests waiting for a job answer now (JobEvents.stop). */
  stopWaits(): void {
    this.events.stop();
  }

  get waitsStopped(): boolean {
    return this.events.waitsStopped;
  }

  /** Called by the runner after every run of a job, whatever its outcome. */
  ran(kind: JobKind, subjectId: string): void {
    this.events.notify(kind, subjectId);
  }
}
