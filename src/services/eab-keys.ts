import type { IssuanceRules } from '../acme/issuance-policy.js';
import type { PreauthorizedScopes } from '../acme/preauthorization.js';
import type { RateLimitOverrides } from '../acme/rate-limits.js';
import type { Clock } from '../platform/clock.js';
import { randomId, type Random } from '../platform/random.js';
import type { EabKeyRecord, PreauthorizationUsage, PreauthorizationUse, Store } from '../store/types.js';

// Minting and managing External Account Binding keys (the admin side of RFC 8555 §7.3.4). A key is
// shown once, as unpadded base64url (cert-manager decodes with RawURLEncoding; interop item 16).

/** Seals an HMAC key for storage, bound to its key id (platform/key-sealer.ts EabKeySealer implements it). */
export interface EabKeySealing {
  seal(plain: Buffer, keyId: string): string;
}

/** What else a key carries for its account (issue 9); fixed with the key like its policy. */
export interface EabKeyExtras {
  /** Replace the directory's rate limits for the key's account. */
  rateLimits?: RateLimitOverrides | null;
  /** Names and addresses the account gets without a challenge, where the directory has policy.preAuthorization. */
  preauthorizedScopes?: PreauthorizedScopes | null;
}

/** A key as `eab list` shows it: the record and how often its scopes were used. */
export interface ListedEabKey extends EabKeyRecord {
  preauthorized: Pick<PreauthorizationUsage, 'count' | 'lastUsedAt'> | null;
}

export interface MintedEabKey {
  keyId: string;
  hmacKey: string;
  label: string;
  expiresAt: Date | null;
}

export class EabKeyService {
  constructor(
    private readonly store: Store,
    private readonly sealer: EabKeySealing,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /**
   * A new key of the directory. `policy` narrows the directory's issuance policy for the account the
   * key creates (acme/issuance-policy.ts); it is fixed with the key, so it can never widen later.
   */
  async create(directory: string, label: string, expiresAt: Date | null, policy: IssuanceRules | null = null, extras: EabKeyExtras = {}): Promise<MintedEabKey> {
    const keyId = `kid-${randomId(this.random)}`;
    const key = this.random.bytes(32);
    await this.store.eabKeys.create({
      id: keyId,
      directory,
      label,
      hmacKeyEnc: this.sealer.seal(key, keyId),
      expiresAt,
      policy,
      rateLimits: extras.rateLimits ?? null,
      preauthorizedScopes: extras.preauthorizedScopes ?? null,
      now: this.clock.now(),
    });
    return { keyId, hmacKey: key.toString('base64url'), label, expiresAt };
  }

  /** The directory's keys, each with the use of its pre-authorized scopes (issue 9: audit). */
  async list(directory: string): Promise<ListedEabKey[]> {
    const [keys, usage] = await Promise.all([this.store.eabKeys.list(directory), this.store.preauthorizations.usage(directory)]);
    const byKey = new Map(usage.map((u) => [u.eabKeyId, { count: u.count, lastUsedAt: u.lastUsedAt }]));
    return keys.map((k) => ({ ...k, preauthorized: byKey.get(k.id) ?? null }));
  }

  /** The uses of a key's pre-authorized scopes, newest first; null when the key is not one of the directory's. */
  async uses(keyId: string, directory: string, limit = 1000): Promise<PreauthorizationUse[] | null> {
    if ((await this.store.eabKeys.get(keyId))?.directory !== directory) return null;
    return this.store.preauthorizations.listForKey(keyId, limit);
  }

  /** Revokes a key; with a directory, only a key of that directory (keys of another one are unknown there). */
  async revoke(keyId: string, directory?: string): Promise<boolean> {
    if (directory !== undefined && (await this.store.eabKeys.get(keyId))?.directory !== directory) return false;
    return this.store.eabKeys.revoke(keyId, this.clock.now());
  }
}

/** "30d", "12h", "90m" or an ISO date → absolute time. */
export function parseExpiry(text: string, now: Date): Date {
  const m = /^(\d+)([dhm])$/.exec(text);
  if (m) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
    return new Date(now.getTime() + Number(m[1]) * unit);
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new Error(`--expires "${text}" is neither a duration (30d, 12h, 90m) nor a date`);
  return d;
}
