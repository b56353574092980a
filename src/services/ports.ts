import type { JobKind, NewJob } from '../store/types.js';

// What the use cases need of the background work, declared here and implemented by jobs/queue.ts
// (services may not import jobs/: ARCHITECTURE.md "The flow").

export interface JobQueue {
  /** The record of a new job of this kind, queued by the store intent that takes it (id, run time, deadline). */
  newJob(kind: JobKind, now: Date): NewJob;
  /** Work was just queued: look for it now rather than at the next poll. */
  kick(): void;
  /** Resolves when a job for the subject has run in this process, or after timeoutMs. */
  waitForRun(kind: JobKind, subjectId: string, timeoutMs: number): Promise<void>;
}
