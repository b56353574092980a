import type { RateLimitName } from '../acme/rate-limits.js';
import type { Identifier } from '../acme/types.js';

// What the Store's rate-limit and pre-authorization intents take and give (issue 9 items 5 and 6;
// store/types.ts names the intents and re-exports these).

/**
 * A windowed rate limit (RFC 8555 §6.6) that an intent checks and counts in its own write: at most
 * `max` events of `name` for `subject` in any window of `windowMs`. The event is counted only when
 * the intent writes what it creates; when the limit refuses, RateLimitExceeded and nothing written.
 * Two writers (replicas) racing for the last slot: one gets it.
 */
export interface CountedLimit {
  name: RateLimitName;
  subject: string;
  max: number;
  windowMs: number;
}

/** A limit on what exists at once (pending orders, running validations), checked in the write that adds one. */
export interface ConcurrentLimit {
  name: RateLimitName;
  max: number;
}

/**
 * Thrown by an intent a limit refused (nothing was written): which limit, and when one more would
 * pass — the oldest counted event leaving the window, the oldest pending order expiring, the
 * earliest running validation's deadline; null when the store cannot tell.
 */
export class RateLimitExceeded extends Error {
  constructor(
    readonly limit: RateLimitName,
    readonly retryAtMs: number | null,
  ) {
    super(`rate limit ${limit} reached`);
  }
}

/** One identifier an EAB key's scope pre-authorized (issue 9), as recorded in the same write as the order. */
export interface PreauthorizationUse {
  eabKeyId: string;
  directory: string;
  orderId: string;
  authzId: string;
  accountId: string;
  identifier: Identifier;
  wildcard: boolean;
  /** The scope that covered it, e.g. "suffix build.corp.internal". */
  scope: string;
  usedAt: Date;
}

/** How much one EAB key's scopes were used (`eab list`). */
export interface PreauthorizationUsage {
  eabKeyId: string;
  /** Identifiers pre-authorized. */
  count: number;
  lastUsedAt: Date;
}
