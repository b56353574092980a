import type { IssuanceRules } from '../../acme/issuance-policy.js';
import type { EabKeyRecord, Store } from '../types.js';
import { dateOrNull, textOrNull, type Db, type Row } from './db.js';

// External Account Binding keys (RFC 8555 §7.3.4). The HMAC key is stored sealed (platform/key-sealer.ts).

function rowToEabKey(r: Row): EabKeyRecord {
  return {
    id: r.id as string,
    directory: r.directory as string,
    label: r.label as string,
    hmacKeyEnc: r.hmac_key_enc as string,
    createdAt: new Date(r.created_at as number),
    expiresAt: dateOrNull(r.expires_at),
    revokedAt: dateOrNull(r.revoked_at),
    boundAccountId: textOrNull(r.bound_account_id),
    boundAt: dateOrNull(r.bound_at),
    policy: r.policy_json === null || r.policy_json === undefined ? null : (JSON.parse(r.policy_json as string) as IssuanceRules),
  };
}

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
        'INSERT INTO eab_keys (id, directory, label, hmac_key_enc, created_at, expires_at, policy_json) VALUES (?, ?, ?, ?, ?, ?, ?)',
        k.id,
        k.directory,
        k.label,
        k.hmacKeyEnc,
        k.now.getTime(),
        k.expiresAt?.getTime() ?? null,
        k.policy ? JSON.stringify(k.policy) : null,
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
