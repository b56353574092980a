import type { Account } from '../acme/types.js';

// What auth/ needs of the rest of the gateway, declared here and implemented beside it (the Store's
// aggregates, the nonce service and the EAB key sealer fit these shapes; deps.ts connects them). Narrow on purpose:
// auth reads, it never writes an account or a key.

/** The account a "kid" names (RFC 8555 §6.2). */
export interface AccountLookup {
  get(id: string): Promise<Account | null>;
}

/** Redeems a nonce once (RFC 8555 §6.5): true when it is ours, fresh and unused. NonceService implements it. */
export interface NonceRedeemer {
  redeem(nonce: string): Promise<boolean>;
}

/** A stored External Account Binding key, as far as checking a binding needs it (RFC 8555 §7.3.4). */
export interface StoredEabKey {
  id: string;
  directory: string;
  /** The HMAC key, sealed at rest (platform/key-sealer.ts). */
  hmacKeyEnc: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  boundAccountId: string | null;
}

export interface EabKeyLookup {
  get(keyId: string): Promise<StoredEabKey | null>;
}

/** Opens a sealed HMAC key; throws when it cannot (wrong key-encryption key, tampered record). */
export interface SealedKeyOpener {
  open(sealed: string, keyId: string): Buffer;
}
