import { appliedLimits, rateLimitedProblem, type AppliedLimit, type RateLimitName } from '../acme/rate-limits.js';
import type { Identifier } from '../acme/types.js';
import { RateLimitExceeded, type ConcurrentLimit, type CountedLimit, type EabKeyRecord } from '../store/types.js';
import type { ServiceContext } from './context.js';

// Rate limits in the use cases (RFC 8555 §6.6): which limits apply to a request (the directory's,
// with the account's EAB key's overrides), the limit specs handed to the store intents that check
// and count them in their own writes, and the `rateLimited` answer when one refuses.

export type Applied = Record<RateLimitName, AppliedLimit>;

/** The limits for an account (or a newAccount) with this EAB key. */
export function limitsFor(ctx: Pick<ServiceContext, 'settings'>, key: EabKeyRecord | null): Applied {
  const { rateLimits, source } = ctx.settings;
  return appliedLimits({ source, limits: rateLimits }, key ? { id: key.id, overrides: key.rateLimits } : null);
}

/** A windowed limit for the store to check and count under `subject`; null when it is off. */
export const counted = (a: AppliedLimit, subject: string): CountedLimit | null =>
  a.limit > 0 && a.windowMs !== null ? { name: a.name, subject, max: a.limit, windowMs: a.windowMs } : null;

/** A limit on what exists at once; null when it is off. */
export const concurrent = (a: AppliedLimit): ConcurrentLimit | null => (a.limit > 0 ? { name: a.name, max: a.limit } : null);

/** How a refusal of each limit reads: what was counted, and what frees it. */
export interface Wording {
  what: string;
  hint?: string;
  identifier?: Identifier;
  /** When the store cannot tell when the limit frees up. */
  fallbackRetryAtMs?: number;
}

/**
 * Runs a store intent that checks limits; when one refuses (RateLimitExceeded) answers with the
 * client's 429 `rateLimited` problem, logged so an operator sees who hits which limit.
 */
export async function underLimits<T>(
  ctx: Pick<ServiceContext, 'clock' | 'logger'>,
  applied: Applied,
  wording: (name: RateLimitName) => Wording,
  intent: () => Promise<T>,
  log: Record<string, unknown> = {},
): Promise<T> {
  try {
    return await intent();
  } catch (err) {
    if (!(err instanceof RateLimitExceeded)) throw err;
    const now = ctx.clock.nowMs();
    const w = wording(err.limit);
    const problem = rateLimitedProblem(applied[err.limit], w.what, err.retryAtMs ?? w.fallbackRetryAtMs ?? now, now, w);
    ctx.logger.info({ ...log, limit: err.limit, value: applied[err.limit].limit, retryAfter: problem.headers?.['Retry-After'] }, 'rate limited');
    throw problem;
  }
}
