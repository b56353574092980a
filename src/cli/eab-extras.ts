import type { IssuanceRules } from '../acme/issuance-policy.js';
import type { PreauthorizedScopes } from '../acme/preauthorization.js';
import type { RateLimitOverrides } from '../acme/rate-limits.js';
import { preauthorizedScopesSchema } from '../config/policy-schema.js';
import { rateLimitOverridesSchema } from '../config/rate-limits-schema.js';

// `eab create` flags for what else a key carries (issue 9): its own rate limits (--rate-…, which
// replace the directory's for its account) and pre-authorized scopes (--preauthorize-…, names its
// account gets without a challenge where the directory has policy.preAuthorization). Both are
// checked with the configuration's own schemas and stored with the key; a refusal names the flag.

export const EXTRA_FLAGS = {
  'rate-new-orders': { type: 'string' },
  'rate-new-accounts': { type: 'string' },
  'rate-failed-validations': { type: 'string' },
  'rate-pending-orders': { type: 'string' },
  'rate-concurrent-validations': { type: 'string' },
  'preauthorize-name': { type: 'string', multiple: true },
  'preauthorize-suffix': { type: 'string', multiple: true },
  'preauthorize-cidr': { type: 'string', multiple: true },
} as const;

export const EXTRA_USAGE = `Rate limits of this key's account, replacing the directory's (0 = off; README "Rate limits"):
  --rate-new-orders N[/WINDOW]      new orders per window (WINDOW: 30m, 3h, 1d, 90s; default the directory's)
  --rate-new-accounts N[/WINDOW]    new accounts per client address, for the newAccount that binds this key
  --rate-failed-validations N       failed validations per identifier per hour
  --rate-pending-orders N           pending orders at once
  --rate-concurrent-validations N   validations at once
Pre-authorized scopes: identifiers the account gets with no challenge, where the directory has
policy.preAuthorization: true (README "Pre-authorized scopes"; the issuance policy still applies first):
  --preauthorize-name N ...         exact names ("*.x": that wildcard)
  --preauthorize-suffix S ...       S and every name below it
  --preauthorize-cidr CIDR ...      IP identifiers in the range
`;

type ExtraFlagValues = { [K in keyof typeof EXTRA_FLAGS]?: (typeof EXTRA_FLAGS)[K] extends { multiple: true } ? string[] : string };

const RATE_FLAG: Record<keyof RateLimitOverrides, keyof ExtraFlagValues> = {
  newOrdersPerAccount: 'rate-new-orders',
  newAccountsPerIp: 'rate-new-accounts',
  failedValidationsPerIdentifier: 'rate-failed-validations',
  pendingOrdersPerAccount: 'rate-pending-orders',
  concurrentValidationsPerAccount: 'rate-concurrent-validations',
};
const SCOPE_FLAG: Record<keyof PreauthorizedScopes, keyof ExtraFlagValues> = { names: 'preauthorize-name', suffixes: 'preauthorize-suffix', cidrs: 'preauthorize-cidr' };

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "N" → N; "N/3h" → { limit: N, windowSeconds: 10800 } (the window part only for windowed limits). */
function rateValue(flag: string, text: string, windowed: boolean): unknown {
  const m = /^(\d{1,7})(?:\/(\d{1,7})([smhd]))?$/.exec(text.trim());
  if (!m || (!windowed && m[2] !== undefined)) {
    throw new Error(`--${flag} "${text}": expected a count${windowed ? ' or COUNT/WINDOW (e.g. 50/3h)' : ''}`);
  }
  const limit = Number(m[1]);
  if (!windowed) return limit;
  return m[2] === undefined ? { limit } : { limit, windowSeconds: Number(m[2]) * UNITS[m[3]!]! };
}

/** The key's rate-limit overrides from the flags; null when none was given. Throws a message naming the flag. */
export function rateLimitsFromFlags(v: ExtraFlagValues): RateLimitOverrides | null {
  const raw: Record<string, unknown> = {};
  for (const [key, flag] of Object.entries(RATE_FLAG) as Array<[keyof RateLimitOverrides, keyof ExtraFlagValues]>) {
    const text = v[flag] as string | undefined;
    if (text !== undefined) raw[key] = rateValue(flag, text, key === 'newOrdersPerAccount' || key === 'newAccountsPerIp');
  }
  if (Object.keys(raw).length === 0) return null;
  const result = rateLimitOverridesSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new Error(`--${RATE_FLAG[issue.path[0] as keyof RateLimitOverrides]}: ${issue.message}`);
}

/** The key's pre-authorized scopes from the flags; null when none was given. Throws a message naming the flag and value. */
export function scopesFromFlags(v: ExtraFlagValues): PreauthorizedScopes | null {
  const raw: Record<string, string[]> = {};
  for (const [key, flag] of Object.entries(SCOPE_FLAG) as Array<[keyof PreauthorizedScopes, keyof ExtraFlagValues]>) {
    const values = v[flag] as string[] | undefined;
    if (values?.length) raw[key] = values;
  }
  if (Object.keys(raw).length === 0) return null;
  const result = preauthorizedScopesSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path[0] as keyof PreauthorizedScopes;
  throw new Error(`--${SCOPE_FLAG[key]} "${raw[key]![issue.path[1] as number]}": ${issue.message}`);
}

/**
 * What `eab create` should say about a key's scopes: ignored where the directory has no
 * policy.preAuthorization, and refused anyway where the directory's policy does not allow them.
 */
export function scopeNotes(scopes: PreauthorizedScopes | null, directory: string, policy: IssuanceRules & { preAuthorization?: boolean | undefined }): string[] {
  if (!scopes) return [];
  const notes: string[] = [];
  if (policy.preAuthorization !== true) {
    notes.push(`directory ${directory} has policy.preAuthorization off: these scopes are ignored (nothing is pre-authorized) until it is set to true`);
  }
  const within = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);
  const allowed = policy.allowedSuffixes;
  if (allowed) {
    for (const s of scopes.suffixes ?? []) {
      if (!allowed.some((d) => within(s, d))) notes.push(`--preauthorize-suffix ${s} is outside the directory's allowedSuffixes (${allowed.join(', ')}): the policy still refuses names under it`);
    }
  }
  if (policy.allowedIpCidrs?.length === 0 && scopes.cidrs?.length) notes.push('--preauthorize-cidr: the directory allows no IP identifiers (allowedIpCidrs: [])');
  return notes;
}
