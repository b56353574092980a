import type { JobKind } from '../store/types.js';

/**
 * In-process "a job for this subject just ran" signal, so a finalize that waits for its issuance
 * wakes when the job ends instead of polling the database. Callers still re-read the store: the
 * signal only says "look now", and jobs run by another process never send it (callers time out).
 */
export class JobEvents {
  private readonly waiters = new Map<string, Set<() => void>>();
  private stopped = false;

  /** True once stop() ran: waits end at once, and callers stop waiting. */
  get waitsStopped(): boolean {
    return this.stopped;
  }

  /**
   * Shutdown: wakes every waiter and makes later waits resolve at once, so that a request waiting
   * for its job answers with the state it has now (processing, with Retry-After; RFC 8555 §7.1.6
   * lets the client poll) instead of being cut off when the listener closes.
   */
  stop(): void {
    this.stopped = true;
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of all) for (const wake of set) wake();
  }

  notify(kind: JobKind, subjectId: string): void {
    const key = `${kind}:${subjectId}`;
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  /** Resolves at the next notify for the subject, or after timeoutMs. */
  wait(kind: JobKind, subjectId: string, timeoutMs: number): Promise<void> {
    const key = `${kind}:${subjectId}`;
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.get(key)?.delete(wake);
        if (this.waiters.get(key)?.size === 0) this.waiters.delete(key);
        resolve();
      }, Math.max(0, timeoutMs));
      set.add(wake);
    });
  }
}
