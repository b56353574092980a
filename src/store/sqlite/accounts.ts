import type { JWK } from 'jose';
import { ACCOUNT_DEACTIVATE } from '../../acme/status.js';
import type { Account } from '../../acme/types.js';
import { EabKeyUnavailable, type KeyChangeResult, type Store } from '../types.js';
import { rowToAccount, type Row } from '../rows.js';
import { moveStatus, type Db } from './db.js';
import { bindEabKey } from './eab-keys.js';
import { takeSlot } from './rate-limits.js';

// Accounts (RFC 8555 §7.3): one per (directory, key thumbprint).

export function sqliteAccounts(db: Db): Store['accounts'] {
  const read = (id: string): Account | null => {
    const r = db.one('SELECT * FROM accounts WHERE id = ?', id);
    return r ? rowToAccount(r) : null;
  };
  const byThumbprint = (directory: string, thumbprint: string): Row | undefined =>
    db.one('SELECT * FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', directory, thumbprint);

  return {
    createOrGet: async (a) =>
      db.tx(() => {
        const now = a.now.getTime();
        const existing = byThumbprint(a.directory, a.thumbprint);
        if (existing) return { account: rowToAccount(existing), created: false };
        // newAccountsPerIp: checked and counted in this write, so only an account created counts.
        takeSlot(db, a.rateLimit, now);
        const inserted = db.run(
          `INSERT INTO accounts (id, directory, jwk_thumbprint, jwk_json, status, contact_json, tos_agreed, eab_key_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?)
           ON CONFLICT (directory, jwk_thumbprint) DO NOTHING`,
          a.id,
          a.directory,
          a.thumbprint,
          JSON.stringify(a.jwk),
          JSON.stringify(a.contact),
          a.termsOfServiceAgreed ? 1 : 0,
          a.eabKeyId,
          now,
          now,
        );
        // Each EAB key creates exactly one account (RFC 8555 §7.3.4): bind it in the same write.
        if (inserted === 1 && a.eabKeyId && !bindEabKey(db, a.eabKeyId, a.id, now)) {
          throw new EabKeyUnavailable(a.eabKeyId); // rolls the account back (and its count)
        }
        return { account: rowToAccount(byThumbprint(a.directory, a.thumbprint)!), created: inserted === 1 };
      }),
    get: async (id) => read(id),
    findByThumbprint: async (directory, thumbprint) => {
      const r = byThumbprint(directory, thumbprint);
      return r ? rowToAccount(r) : null;
    },
    updateContact: async (id, contact, now) => {
      const n = db.run(
        "UPDATE accounts SET contact_json = ?, updated_at = ? WHERE id = ? AND status = 'valid'",
        JSON.stringify(contact),
        now.getTime(),
        id,
      );
      return n === 1 ? read(id) : null;
    },
    deactivate: async (id, now) => {
      return moveStatus(db, 'accounts', ACCOUNT_DEACTIVATE, id, now.getTime()) ? read(id) : null;
    },
    changeKey: async (id: string, oldThumbprint: string, jwk: JWK, thumbprint: string, now: Date): Promise<KeyChangeResult> =>
      db.tx(() => {
        const account = read(id);
        if (!account) return { ok: false, reason: 'gone' } as const;
        const other = db.one('SELECT id FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', account.directory, thumbprint);
        if (other) return { ok: false, reason: 'conflict', conflictingAccountId: other.id as string } as const;
        const n = db.run(
          "UPDATE accounts SET jwk_json = ?, jwk_thumbprint = ?, updated_at = ? WHERE id = ? AND jwk_thumbprint = ? AND status = 'valid'",
          JSON.stringify(jwk),
          thumbprint,
          now.getTime(),
          id,
          oldThumbprint,
        );
        if (n !== 1) return { ok: false, reason: 'gone' } as const;
        return { ok: true, account: read(id)! } as const;
      }),
  };
}
