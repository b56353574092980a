import { z } from 'zod';

// Rate limits as the configuration file (`rateLimits:` beside `policy:`, in the default directory
// and in `directories.<name>`) and the `eab create --rate-…` flags write them; acme/rate-limits.ts
// applies them. A count of 0 turns a limit off; a key left out takes its default. The defaults are
// far above what a well-behaved client does — certbot, lego or cert-manager renewing a fleet, the
// e2e suites — and stop a client stuck in a loop (one new order a second is 3,600 an hour).

/** The largest window: events are kept this long at most. */
const MAX_WINDOW_SECONDS = 30 * 86_400;
const count = z.number().int().min(0).max(1_000_000);

const windowed = z.object({ limit: count, windowSeconds: z.number().int().min(1).max(MAX_WINDOW_SECONDS) }).strict();

/** `300` (the default window) or `{ limit: 300, windowSeconds: 10800 }`. */
const windowedWithDefault = (limit: number, windowSeconds: number) =>
  z
    .union([count, windowed.extend({ windowSeconds: windowed.shape.windowSeconds.default(windowSeconds) })])
    .transform((v) => (typeof v === 'number' ? { limit: v, windowSeconds } : v))
    .default({ limit, windowSeconds });

export const RATE_LIMIT_DEFAULTS = {
  newOrdersPerAccount: { limit: 1000, windowSeconds: 3600 },
  newAccountsPerIp: { limit: 100, windowSeconds: 3600 },
  failedValidationsPerIdentifier: 10,
  pendingOrdersPerAccount: 1000,
  concurrentValidationsPerAccount: 100,
} as const;

const d = RATE_LIMIT_DEFAULTS;

export const rateLimitsSchema = z
  .object({
    /** New orders per account per window (RFC 8555 §7.4 newOrder). */
    newOrdersPerAccount: windowedWithDefault(d.newOrdersPerAccount.limit, d.newOrdersPerAccount.windowSeconds),
    /** New accounts per client address (IPv6: per /64) per window (RFC 8555 §7.3 newAccount). */
    newAccountsPerIp: windowedWithDefault(d.newAccountsPerIp.limit, d.newAccountsPerIp.windowSeconds),
    /** Failed validations per account per identifier in the last hour; a newOrder naming it is refused. */
    failedValidationsPerIdentifier: count.default(d.failedValidationsPerIdentifier),
    /** Pending (unauthorized, unexpired) orders an account may have at once. */
    pendingOrdersPerAccount: count.default(d.pendingOrdersPerAccount),
    /** Challenges of an account being validated at once (RFC 8555 §7.5.1). */
    concurrentValidationsPerAccount: count.default(d.concurrentValidationsPerAccount),
  })
  .strict();

export type RateLimitsConfig = z.infer<typeof rateLimitsSchema>;

/** An EAB key's overrides: the same keys, none defaulted (a key left out, or a window left out, is the directory's). */
const windowedOverride = windowed.extend({ windowSeconds: windowed.shape.windowSeconds.optional() });
export const rateLimitOverridesSchema = z
  .object({
    newOrdersPerAccount: windowedOverride.optional(),
    newAccountsPerIp: windowedOverride.optional(),
    failedValidationsPerIdentifier: count.optional(),
    pendingOrdersPerAccount: count.optional(),
    concurrentValidationsPerAccount: count.optional(),
  })
  .strict();
