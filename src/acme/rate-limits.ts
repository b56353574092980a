import { parseAddress } from './cidr.js';
import { AcmeProblem } from './problems.js';
import type { Identifier } from './types.js';

// Rate limits (issue 9 item 5; RFC 8555 §6.6): how many new orders, new accounts and failed
// validations a client may cause per window, and how many pending orders and running validations
// it may have at once. Pure: the settings, whose value applies (the directory's, or an EAB key's
// override), the keys a limit counts under, and the `rateLimited` problem with its Retry-After.
// The counting itself is a Store intent (store/types.ts CountedLimit, ConcurrentLimit), atomic in
// the write that creates what is counted.

/** A limit on events per sliding window: at most `limit` in any `windowSeconds`; limit 0 = off. */
export interface WindowedLimit {
  limit: number;
  windowSeconds: number;
}

/** A directory's limits (config `rateLimits:`); a number is a count, 0 = off. */
export interface RateLimitSettings {
  /** New orders per account per window. */
  newOrdersPerAccount: WindowedLimit;
  /** New accounts per client address (an IPv6 client: its /64) per window, per directory. */
  newAccountsPerIp: WindowedLimit;
  /** Failed validations per account per identifier in the last hour; checked at newOrder. */
  failedValidationsPerIdentifier: number;
  /** Orders of the account that are pending (not yet authorized, not expired) at once. */
  pendingOrdersPerAccount: number;
  /** Challenges of the account being validated at once. */
  concurrentValidationsPerAccount: number;
}

export type RateLimitName = keyof RateLimitSettings;
export const RATE_LIMIT_NAMES: readonly RateLimitName[] = [
  'newOrdersPerAccount',
  'newAccountsPerIp',
  'failedValidationsPerIdentifier',
  'pendingOrdersPerAccount',
  'concurrentValidationsPerAccount',
];

/**
 * An EAB key's overrides (`eab create --rate-…`): a limit set here replaces the directory's value for
 * the key's account; a windowed one without its own window keeps the directory's.
 */
export type RateLimitOverrides = {
  [K in RateLimitName]?: RateLimitSettings[K] extends WindowedLimit ? { limit: number; windowSeconds?: number | undefined } : number;
};

/** Failed validations count for an hour (issue 9: "per account per identifier per hour"; Let's Encrypt's window too). */
export const FAILED_VALIDATION_WINDOW_MS = 3_600_000;

/** One limit as it applies to a request: its value and the rule that set it, for the problem's detail. */
export interface AppliedLimit {
  name: RateLimitName;
  /** The count; 0 = off. */
  limit: number;
  /** For windowed limits. */
  windowMs: number | null;
  /** `rateLimits.newOrdersPerAccount of directory "payments"`, `… of EAB key kid-…`. */
  rule: string;
}

/**
 * The limits for one account (or one newAccount request): the directory's, each replaced by the EAB
 * key's override when the key has one. Unlike the issuance policy a key may raise a limit as well as
 * lower it: limits protect capacity, not names, and the operator who mints the key decides.
 */
export function appliedLimits(
  directory: { source: string; limits: RateLimitSettings },
  key: { id: string; overrides: RateLimitOverrides | null } | null,
): Record<RateLimitName, AppliedLimit> {
  const out = {} as Record<RateLimitName, AppliedLimit>;
  for (const name of RATE_LIMIT_NAMES) {
    const own = key?.overrides?.[name];
    const base = directory.limits[name];
    const rule = `rateLimits.${name} of ${own !== undefined ? `EAB key ${key!.id}` : directory.source}`;
    if (typeof base === 'number') {
      const limit = typeof own === 'number' ? own : base;
      out[name] = { name, limit, windowMs: name === 'failedValidationsPerIdentifier' ? FAILED_VALIDATION_WINDOW_MS : null, rule };
    } else {
      const value = typeof own === 'object' ? own : undefined;
      out[name] = { name, limit: value?.limit ?? base.limit, windowMs: (value?.windowSeconds ?? base.windowSeconds) * 1000, rule };
    }
  }
  return out;
}

// ---------- what a limit counts under ----------

/**
 * The client an address stands for: an IPv4 address (IPv4-mapped IPv6 included) as itself, an
 * IPv6 address as its /64 — one host or site usually holds a whole /64, so a per-address limit on
 * IPv6 would limit nothing (Boulder counts IPv6 registrations per range, too). null: not an address.
 */
export function clientKey(address: string): string | null {
  const parsed = parseAddress(address.trim());
  if (!parsed) return null;
  if (parsed.family === 4) {
    const v = Number(parsed.value);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  const top = parsed.value >> 64n;
  const groups = [48n, 32n, 16n, 0n].map((s) => ((top >> s) & 0xffffn).toString(16));
  return `${groups.join(':')}::/64`;
}

/** What the newAccountsPerIp window counts under: the directory and the client (accounts belong to a directory). */
export const newAccountsSubject = (directory: string, client: string): string => `${directory} ${client}`;

/** What failed validations count under: the account and the identifier (a wildcard counts with its base name). */
export const failedValidationSubject = (accountId: string, id: Pick<Identifier, 'type' | 'value'>): string =>
  `${accountId} ${id.type}:${id.value.toLowerCase().replace(/^\*\./, '')}`;

// ---------- the answer ----------

/** Whole seconds from now until `atMs`, at least 1 (RFC 9110 §10.2.3 delay-seconds; 0 would invite a busy loop). */
export function retryAfterSeconds(atMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((atMs - nowMs) / 1000));
}

/** "3h", "90m", "45s", "1d": a window as the `eab create --rate-…` flags write it. */
export function spellWindow(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/**
 * RFC 8555 §6.6: `rateLimited` (429) with Retry-After, the seconds until the limit lets the request
 * through again, and a detail that names the limit, its value and where it is set. `what` says what
 * was counted ("new orders for this account").
 */
export function rateLimitedProblem(applied: AppliedLimit, what: string, retryAtMs: number, nowMs: number, extra: { identifier?: Identifier; hint?: string } = {}): AcmeProblem {
  const seconds = retryAfterSeconds(retryAtMs, nowMs);
  const per = applied.windowMs !== null ? ` per ${spellWindow(applied.windowMs)}` : ' at once';
  const detail = `too many ${what}: the limit is ${applied.limit}${per} (${applied.rule}); retry after ${seconds} s${extra.hint ? ` ${extra.hint}` : ''}`;
  return new AcmeProblem('rateLimited', detail, {
    headers: { 'Retry-After': String(seconds) },
    ...(extra.identifier ? { identifier: { type: extra.identifier.type, value: extra.identifier.value } } : {}),
  });
}

/** One line for `eab list`: the overrides a key carries, "-" when none. */
export function describeOverrides(overrides: RateLimitOverrides | null | undefined): string {
  if (!overrides) return '-';
  const parts = RATE_LIMIT_NAMES.filter((n) => overrides[n] !== undefined).map((n) => {
    const v = overrides[n]!;
    return `${n}=${typeof v === 'number' ? v : v.windowSeconds === undefined ? v.limit : `${v.limit}/${spellWindow(v.windowSeconds * 1000)}`}`;
  });
  return parts.length ? parts.join(' ') : '-';
}
