import { rowToEabKey } from '../rows.js';
import type { Store } from '../types.js';
import type { Db } from './db.js';

// External Account Binding keys (RFC 8555 §7.3.4). The HMAC key is stored sealed (platform/key-sealer.ts).

/**
 * Binds an unbound, unrevoked, unexpired key to the account (inside the caller's transaction);
 * false when the key is no longer available.
 */
export function bindEabKey(db: Db, keyId: string, accountId: string, nowMs: number): boolean {
  const bound = db.run(
    `UPDATE eab_keys SET bound_account_id = ?, bound_at = ?
     WHERE id = ? AND bound_account_id IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
    accountId,
    nowMs,
    keyId,
    nowMs,
  );
  return bound === 1;
}

export function sqliteEabKeys(db: Db): Store['eabKeys'] {
  return {
    create: async (k) => {
      db.run(
        `INSERT INTO eab_keys (id, directory, label, hmac_key_enc, created_at, expires_at, policy_json, rate_limits_json, preauth_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        k.id,
        k.directory,
        k.label,
        k.hmacKeyEnc,
        k.now.getTime(),
        k.expiresAt?.getTime() ?? null,
        k.policy ? JSON.stringify(k.policy) : null,
        k.rateLimits ? JSON.stringify(k.rateLimits) : null,
        k.preauthorizedScopes ? JSON.stringify(k.preauthorizedScopes) : null,
      );
    },
    get: async (id) => {
      const r = db.one('SELECT * FROM eab_keys WHERE id = ?', id);
      return r ? rowToEabKey(r) : null;
    },
    list: async (directory) => db.all('SELECT * FROM eab_keys WHERE directory = ? ORDER BY created_at', directory).map(rowToEabKey),
    revoke: async (id, now) => db.run('UPDATE eab_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', now.getTime(), id) === 1,
  };
}
