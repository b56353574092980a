import type { JobKind } from '../store/types.js';

// What the gateway tells a client about work it has not finished (Retry-After on a processing
// challenge or order, RFC 8555 §8.2 and §7.4): how long, in whole seconds, before a new look is
// worth it. It fits how fast the work really is here: a free slot means the job starts now and
// takes about as long as the recent ones did (a few ms for a validation: 1 s, the floor), a
// saturated kind means the work queued ahead drains at `concurrency` jobs per average run, so the
// answer grows with the queue and clients back off while the gateway is loaded.
//
// Never 0 (interop item 30 and bench/RESULTS.md "Retry-After"): lego 4.x takes the challenge's
// Retry-After as its backoff interval and polls in a tight loop on 0, clients that count their
// polls (acme.sh, win-acme) would spend them in milliseconds, and several clients parse only
// integers. The requests that start work (challenge POST, finalize) wait for it a short while
// instead, so quick work needs no poll at all.

export const RETRY_AFTER_MIN_S = 1;
export const RETRY_AFTER_MAX_S = 10;
/** Until a kind has run once: what "a short job" is assumed to take. */
const FIRST_GUESS_MS = 1_000;
/** Weight of the newest run in the running average. */
const ALPHA = 0.2;
/** The backlog count is read from the store at most this often, and only while a kind is saturated. */
const BACKLOG_REFRESH_MS = 1_000;

export interface RetryAfterDeps {
  concurrency: Partial<Record<JobKind, number>>;
  /** Jobs of the kind running in this process now. */
  running(kind: JobKind): number;
  /** Jobs queued or running in the store (every kind, every replica). */
  countActive(): Promise<number>;
}

export class RetryAfterEstimate {
  private readonly averageMs = new Map<JobKind, number>();
  private active = 0;
  private activeReadAt = -Infinity;
  private reading = false;

  constructor(private readonly d: RetryAfterDeps) {}

  /** A job of this kind ran for `ms` (any outcome: a retry's short run is also what a slot costs). */
  ran(kind: JobKind, ms: number): void {
    const prev = this.averageMs.get(kind);
    this.averageMs.set(kind, prev === undefined ? ms : prev + ALPHA * (ms - prev));
  }

  /** Whole seconds from RETRY_AFTER_MIN_S to RETRY_AFTER_MAX_S. */
  seconds(kind: JobKind): number {
    const average = this.averageMs.get(kind) ?? FIRST_GUESS_MS;
    const capacity = Math.max(1, this.d.concurrency[kind] ?? 1);
    const running = this.d.running(kind);
    let ms = average;
    if (running >= capacity) {
      this.refreshBacklog();
      ms = (Math.max(this.active, running) / capacity) * average;
    }
    return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(ms / 1000)));
  }

  /** In the background: the answer uses the last count read, never waits for a new one. */
  private refreshBacklog(): void {
    const now = performance.now();
    if (this.reading || now - this.activeReadAt < BACKLOG_REFRESH_MS) return;
    this.reading = true;
    this.d.countActive().then(
      (n) => {
        this.active = n;
        this.activeReadAt = performance.now();
        this.reading = false;
      },
      () => {
        this.activeReadAt = performance.now(); // a failing store: try again a second later
        this.reading = false;
      },
    );
  }
}
