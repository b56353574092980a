export type PcaErrorKind = 'http' | 'timeout' | 'network' | 'malformed' | 'circuitOpen';

export interface PcaErrorOptions {
  httpStatus?: number;
  /** PCA envelope `code` (e.g. EMPTY_CSR) or gateway `errorCode` (e.g. "200"). */
  code?: string;
  /** Message text the PCA / gateway sent (never our secrets). */
  pcaMessage?: string;
  /**
   * Overrides the default classification. Used for malformed *requests* detected before sending
   * (retrying cannot help), which share kind 'malformed' with malformed responses.
   */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * The one error type that crosses the PCA port. Messages never include credentials or signatures.
 */
export class PcaError extends Error {
  readonly kind: PcaErrorKind;
  readonly httpStatus?: number;
  readonly code?: string;
  readonly pcaMessage?: string;
  private readonly retryableOverride?: boolean;

  constructor(kind: PcaErrorKind, message: string, options: PcaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PcaError';
    this.kind = kind;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.code !== undefined) this.code = options.code;
    if (options.pcaMessage !== undefined) this.pcaMessage = options.pcaMessage;
    if (options.retryable !== undefined) this.retryableOverride = options.retryable;
  }

  /**
   * Whether trying again later may succeed: timeouts, network errors, 429 and 5xx are; other 4xx are not.
   * A malformed response is "unknown" and counted as retryable (callers reconcile, e.g. a sign may have
   * issued). An open circuit is transient too, but the resilient wrapper itself never retries it.
   */
  get retryable(): boolean {
    if (this.retryableOverride !== undefined) return this.retryableOverride;
    switch (this.kind) {
      case 'timeout':
      case 'network':
      case 'malformed':
      case 'circuitOpen':
        return true;
      case 'http': {
        const s = this.httpStatus ?? 0;
        return s === 429 || s >= 500;
      }
    }
  }

  /**
   * Whether the PCA may have acted on the request even though we got no usable answer (timeout,
   * dropped connection, garbled body, 5xx). For `sign` this means: reconcile before signing again.
   */
  get outcomeUnknown(): boolean {
    if (this.kind === 'timeout' || this.kind === 'network') return true;
    if (this.kind === 'malformed') return this.retryableOverride !== false;
    return this.kind === 'http' && (this.httpStatus ?? 0) >= 500;
  }
}

export const isPcaError = (e: unknown): e is PcaError => e instanceof PcaError;
