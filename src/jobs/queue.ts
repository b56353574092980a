import { randomId, type Random } from '../platform/random.js';
import type { JobKind, NewJob } from '../store/types.js';
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

export const DEFAULT_VALIDATION_DEADLINE_MS = 5 * 60_000;
export const DEFAULT_NOTIFY_DEADLINE_MS = 24 * 3_600_000;

export class JobQueue {
  private readonly events = new JobEvents();
  private readonly kickListeners = new Set<() => void>();

  constructor(
    private readonly o: { random: Random; deadlines: JobDeadlines },
  ) {}

  newJob(kind: JobKind, now: Date): NewJob {
    const runAt = now.getTime();
    return { id: randomId(this.o.random), runAt, deadlineAt: runAt + this.deadlineMs(kind) };
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

  /** Called by the runner after every run of a job, whatever its outcome. */
  ran(kind: JobKind, subjectId: string): void {
    this.events.notify(kind, subjectId);
  }
}
