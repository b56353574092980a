import type { IssuanceRules } from '../acme/issuance-policy.js';
import type { Clock } from '../platform/clock.js';
import { randomId, type Random } from '../platform/random.js';
import type { EabKeyRecord, Store } from '../store/types.js';

// Minting and managing External Account Binding keys (the admin side of RFC 8555 §7.3.4). A key is
// shown once, as unpadded base64url (cert-manager decodes with RawURLEncoding; interop item 16).

/** Seals an HMAC key for storage, bound to its key id (platform/key-sealer.ts EabKeySealer implements it). */
export interface EabKeySealing {
  seal(plain: Buffer, keyId: string): string;
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
  async create(directory: string, label: string, expiresAt: Date | null, policy: IssuanceRules | null = null): Promise<MintedEabKey> {
    const keyId = `kid-${randomId(this.random)}`;
    const key = this.random.bytes(32);
    await this.store.eabKeys.create({ id: keyId, directory, label, hmacKeyEnc: this.sealer.seal(key, keyId), expiresAt, policy, now: this.clock.now() });
    return { keyId, hmacKey: key.toString('base64url'), label, expiresAt };
  }

  list(directory: string): Promise<EabKeyRecord[]> {
    return this.store.eabKeys.list(directory);
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
