import type { JobKind, NewJob } from '../store/types.js';

// What the use cases need of the background work, declared here and implemented by jobs/queue.ts
// (services may not import jobs/: ARCHITECTURE.md "The flow").

export interface JobQueue {
  /** The record of a new job of this kind, queued by the store intent that takes it (id, run time, deadline). */
  newJob(kind: JobKind, now: Date): NewJob;
  /**
   * The record of a job this process starts itself once the write taking it commits (leased to its
   * runner when a slot of the kind is free, else queued); pass it to `started` after the write.
   */
  startJob(kind: JobKind, now: Date): NewJob;
  /** After the write of a startJob record, taken (`written`) or not: runs it, wakes the runner, or frees the slot. */
  started(kind: JobKind, subjectId: string, job: NewJob, written: boolean): void;
  /** Work was just queued: look for it now rather than at the next poll. */
  kick(): void;
  /** Resolves when a job for the subject has run in this process, or after timeoutMs. */
  waitForRun(kind: JobKind, subjectId: string, timeoutMs: number): Promise<void>;
  /** True once shutdown has begun: a request stops waiting and answers with the state it has. */
  readonly waitsStopped: boolean;
}
