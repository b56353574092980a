import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { PcaError } from './errors.js';
import type { PcaCaInfo, PcaCertInfo, PcaCertPage, PcaClient, PcaSignOptions, PcaSignResult } from './types.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ResilientPcaOptions {
  clock: Clock;
  /** Waits between attempts; tests pass a fake that advances a ManualClock. */
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1); drives the backoff jitter. */
  random?: () => number;
  logger?: Logger;
  /** Attempts per call, first one included (default 4). */
  maxAttempts?: number;
  /** Backoff cap grows as baseDelayMs * 2^(attempt-1) up to maxDelayMs (defaults 250 / 10000). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** No retry is started that would end after this many ms from the call's start (default 60000). */
  deadlineMs?: number;
  /** Consecutive PCA failures that open the breaker (default 5). */
  breakerThreshold?: number;
  /** How long the breaker stays open before one probe is let through (default 30000). */
  breakerCooldownMs?: number;
  /** In-flight calls to the PCA at most; others wait in FIFO order (default 8). */
  maxConcurrent?: number;
  /**
   * Retry `sign` too. Off by default: a sign whose answer was lost may have issued, and a blind retry
   * would issue twice; the issuance job reconciles (getCert/listCerts) instead.
   */
  retrySign?: boolean;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wraps a PcaClient with retries (exponential backoff, full jitter), a circuit breaker and a
 * concurrency cap. Only failures that say something about the PCA's health (timeouts, network,
 * 5xx, garbled answers) count against the breaker; a 4xx is the caller's problem and passes through.
 * A 429 is retried with backoff but does not count either: the PCA answered, it is throttling
 * (ncp-pca-api §1.3), and opening the breaker would turn a short throttle into a whole cooldown of
 * refusals and a not-ready gateway (issue 10, the simulator's rateLimitPerSecond).
 */
export class ResilientPcaClient implements PcaClient {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly deadlineMs: number;
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly maxConcurrent: number;
  private readonly retrySign: boolean;

  private consecutiveFailures = 0;
  private openedAt: number | undefined;
  private probeInFlight = false;
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly inner: PcaClient,
    private readonly opts: ResilientPcaOptions,
  ) {
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 10_000;
    this.deadlineMs = opts.deadlineMs ?? 60_000;
    this.threshold = Math.max(1, opts.breakerThreshold ?? 5);
    this.cooldownMs = opts.breakerCooldownMs ?? 30_000;
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 8);
    this.retrySign = opts.retrySign ?? false;
  }

  /** For /readyz: open means the PCA has been failing and calls are being refused. */
  breakerState(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.opts.clock.nowMs() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  sign(csrPem: string, opts?: PcaSignOptions): Promise<PcaSignResult> {
    return this.run('sign', () => this.inner.sign(csrPem, opts), this.retrySign, opts?.signal);
  }
  chain(): Promise<string[]> {
    return this.run('chain', () => this.inner.chain(), true);
  }
  /** Revoking twice is harmless (the second answers reason 'alreadyRevoked'), so revoke is retried. */
  revoke(serialNo: string): Promise<void> {
    return this.run('revoke', () => this.inner.revoke(serialNo), true);
  }
  getCert(serialNo: string): Promise<PcaCertInfo> {
    return this.run('getCert', () => this.inner.getCert(serialNo), true);
  }
  listCerts(pageNo?: number): Promise<PcaCertPage> {
    return this.run('listCerts', () => this.inner.listCerts(pageNo), true);
  }
  crl(): Promise<string> {
    return this.run('crl', () => this.inner.crl(), true);
  }
  getCa(): Promise<PcaCaInfo> {
    return this.run('getCa', () => this.inner.getCa(), true);
  }
  /** Publishing the CRL again is harmless, so it is retried. */
  rotateCrl(): Promise<void> {
    return this.run('rotateCrl', () => this.inner.rotateCrl(), true);
  }

  private async run<T>(op: string, fn: () => Promise<T>, retry: boolean, signal?: AbortSignal): Promise<T> {
    const started = this.opts.clock.nowMs();
    for (let attempt = 1; ; attempt++) {
      let result: T;
      try {
        result = await this.attempt(fn);
      } catch (e) {
        const err = e instanceof PcaError ? e : undefined;
        if (!err || err.kind === 'circuitOpen' || !err.retryable || !retry || attempt >= this.maxAttempts || signal?.aborted) throw e;
        // Full jitter (AWS "Exponential Backoff And Jitter"): spreads retries of many callers apart.
        const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        const delay = Math.floor(this.random() * cap);
        if (this.opts.clock.nowMs() + delay - started > this.deadlineMs) throw e;
        this.opts.logger?.warn({ pca: { op, attempt, delayMs: delay, kind: err.kind, status: err.httpStatus, code: err.code } }, 'pca call failed, retrying');
        await this.sleep(delay);
        continue;
      }
      return result;
    }
  }

  /** One call through the breaker and the concurrency cap. */
  private async attempt<T>(fn: () => Promise<T>): Promise<T> {
    const isProbe = this.admit();
    await this.acquire();
    try {
      const value = await fn();
      this.onSuccess();
      return value;
    } catch (e) {
      if (countsAsFailure(e)) this.onFailure();
      else this.onSuccess(); // the PCA answered (e.g. 4xx): it is healthy
      throw e;
    } finally {
      if (isProbe) this.probeInFlight = false;
      this.release();
    }
  }

  /** Throws circuitOpen when refused; returns true when this call is the half-open probe. */
  private admit(): boolean {
    const state = this.breakerState();
    if (state === 'closed') return false;
    if (state === 'half-open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return true;
    }
    throw new PcaError('circuitOpen', 'PCA circuit breaker is open; failing fast');
  }

  private onSuccess(): void {
    this.consecutiveFailures = 0;
    if (this.openedAt !== undefined) this.opts.logger?.info('pca circuit breaker closed');
    this.openedAt = undefined;
  }

  private onFailure(): void {
    this.consecutiveFailures++;
    // A failed half-open probe re-opens at once; otherwise open after `threshold` in a row.
    if (this.openedAt !== undefined || this.consecutiveFailures >= this.threshold) {
      if (this.openedAt === undefined) this.opts.logger?.warn({ failures: this.consecutiveFailures }, 'pca circuit breaker opened');
      this.openedAt = this.opts.clock.nowMs();
    }
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.maxConcurrent) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter, so inFlight stays the same.
    if (next) next();
    else this.inFlight--;
  }
}

function countsAsFailure(e: unknown): boolean {
  if (!(e instanceof PcaError)) return true;
  if (e.kind === 'http' && e.httpStatus === 429) return false;
  return e.kind !== 'circuitOpen' && e.retryable;
}
