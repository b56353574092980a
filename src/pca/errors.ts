/** How the call failed on the wire. */
export type PcaErrorKind = 'http' | 'timeout' | 'network' | 'malformed' | 'circuitOpen';

/**
 * What the failure means for the gateway, whatever the wire said: the one vocabulary the rest of the
 * code (the issuance job, revocation, the translator in pca/problems.ts) reasons with. The NCP client
 * sets it from the PCA's codes and statuses (pca/ncp-errors.ts); nothing outside pca/ reads codes.
 */
export type PcaErrorReason =
  /** Revoke of a certificate the PCA has already revoked: the wanted state, not a failure. */
  | 'alreadyRevoked'
  /** The PCA refused the CSR (syntax, signature, key type, names). */
  | 'csrRejected'
  /** The requested period does not fit what the CA may issue (ncp-pca-api §3.1 note b). */
  | 'validityRejected'
  /** Credentials, permissions or the request's timestamp (signature v2, ±5 min; ncp-pca-api §1.2). */
  | 'authentication'
  /** The configured caTag names no CA. */
  | 'unknownCa'
  /** No certificate with that serial (or no such CA: a 404 on a certificate path does not say which). */
  | 'certificateNotFound'
  /** The CA exists but cannot sign now (not ACTIVE, signing limit reached). */
  | 'caUnusable'
  /** Timeouts, network errors, 429, 5xx, an open circuit: the PCA may answer later. */
  | 'unavailable'
  /** An answer the gateway cannot use (not JSON, fields missing, a leaf nothing issued). */
  | 'badResponse'
  /** The gateway's own request is invalid (refused before sending, or by the PCA as malformed). */
  | 'badRequest'
  /** Any other refusal. */
  | 'refused';

export interface PcaErrorOptions {
  httpStatus?: number;
  /** PCA envelope `code` (e.g. EMPTY_CSR) or gateway `errorCode` (e.g. "200"). */
  code?: string;
  /** Message text the PCA / gateway sent (never our secrets). */
  pcaMessage?: string;
  /** The API gateway's `details` text (e.g. which part of the signature check failed), never our secrets. */
  pcaDetails?: string;
  /** Set by the client that knows the PCA's codes; otherwise derived from the kind (see defaultReason). */
  reason?: PcaErrorReason;
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
  readonly reason: PcaErrorReason;
  readonly httpStatus?: number;
  readonly code?: string;
  readonly pcaMessage?: string;
  readonly pcaDetails?: string;
  private readonly retryableOverride?: boolean;

  constructor(kind: PcaErrorKind, message: string, options: PcaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PcaError';
    this.kind = kind;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.code !== undefined) this.code = options.code;
    if (options.pcaMessage !== undefined) this.pcaMessage = options.pcaMessage;
    if (options.pcaDetails !== undefined) this.pcaDetails = options.pcaDetails;
    if (options.retryable !== undefined) this.retryableOverride = options.retryable;
    this.reason = options.reason ?? defaultReason(kind, options.httpStatus, options.retryable);
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

/** The reason when no client that knows the PCA's codes gave one: only what the kind and status tell. */
function defaultReason(kind: PcaErrorKind, httpStatus: number | undefined, retryable: boolean | undefined): PcaErrorReason {
  switch (kind) {
    case 'timeout':
    case 'network':
    case 'circuitOpen':
      return 'unavailable';
    case 'malformed':
      return retryable === false ? 'badRequest' : 'badResponse';
    case 'http': {
      const s = httpStatus ?? 0;
      return s === 429 || s >= 500 ? 'unavailable' : 'refused';
    }
  }
}
