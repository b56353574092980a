import type { JWK } from 'jose';
import { ACCOUNT_DEACTIVATE } from '../../acme/status.js';
import type { Account } from '../../acme/types.js';
import { rowToAccount } from '../rows.js';
import { EabKeyUnavailable, type KeyChangeResult, type Store } from '../types.js';
import { statusIn, type PgDb, type Queries } from './db.js';
import { bindEabKey } from './eab-keys.js';
import { reserveSlot } from './rate-limits.js';

// Accounts (RFC 8555 §7.3): one per (directory, key thumbprint); the unique key decides between
// replicas creating the same account, or moving two accounts to the same key, at once.

const UNIQUE_VIOLATION = '23505';

export function postgresAccounts(db: PgDb): Store['accounts'] {
  const read = async (q: Queries, id: string): Promise<Account | null> => {
    const r = await q.one('SELECT * FROM accounts WHERE id = ?', id);
    return r ? rowToAccount(r) : null;
  };
  const byThumbprint = (q: Queries, directory: string, thumbprint: string) =>
    q.one('SELECT * FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', directory, thumbprint);

  return {
    createOrGet: async (a) =>
      db.tx(async (q) => {
        const now = a.now.getTime();
        const existing = await byThumbprint(q, a.directory, a.thumbprint);
        if (existing) return { account: rowToAccount(existing), created: false };
        // newAccountsPerIp: checked under its lock here, counted below only when this account is created.
        const count = await reserveSlot(q, a.rateLimit, now);
        // A concurrent insert of the same key makes this one wait for it and then do nothing; the
        // read after it (a new statement, so a new snapshot) finds the winner's account.
        const inserted = await q.run(
          `INSERT INTO accounts (id, directory, jwk_thumbprint, jwk_json, status, contact_json, tos_agreed, eab_key_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?)
           ON CONFLICT (directory, jwk_thumbprint) DO NOTHING`,
          a.id,
          a.directory,
          a.thumbprint,
          JSON.stringify(a.jwk),
          JSON.stringify(a.contact),
          a.termsOfServiceAgreed,
          a.eabKeyId,
          now,
          now,
        );
        // Each EAB key creates exactly one account (RFC 8555 §7.3.4): bind it in the same write.
        if (inserted === 1 && a.eabKeyId && !(await bindEabKey(q, a.eabKeyId, a.id, now))) {
          throw new EabKeyUnavailable(a.eabKeyId); // rolls the account back
        }
        if (inserted === 1) await count();
        return { account: rowToAccount((await byThumbprint(q, a.directory, a.thumbprint))!), created: inserted === 1 };
      }),
    get: async (id) => read(db, id),
    findByThumbprint: async (directory, thumbprint) => {
      const r = await byThumbprint(db, directory, thumbprint);
      return r ? rowToAccount(r) : null;
    },
    updateContact: async (id, contact, now) => {
      const r = await db.one(
        "UPDATE accounts SET contact_json = ?, updated_at = ? WHERE id = ? AND status = 'valid' RETURNING *",
        JSON.stringify(contact),
        now.getTime(),
        id,
      );
      return r ? rowToAccount(r) : null;
    },
    deactivate: async (id, now) => {
      const r = await db.one(
        `UPDATE accounts SET status = ?, updated_at = ? WHERE id = ? AND ${statusIn(ACCOUNT_DEACTIVATE)} RETURNING *`,
        ACCOUNT_DEACTIVATE.to,
        now.getTime(),
        id,
        ...ACCOUNT_DEACTIVATE.from,
      );
      return r ? rowToAccount(r) : null;
    },
    changeKey: async (id: string, oldThumbprint: string, jwk: JWK, thumbprint: string, now: Date): Promise<KeyChangeResult> => {
      try {
        return await db.tx(async (q) => {
          const account = await read(q, id);
          if (!account) return { ok: false, reason: 'gone' } as const;
          const other = await q.one('SELECT id FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', account.directory, thumbprint);
          if (other) return { ok: false, reason: 'conflict', conflictingAccountId: other.id as string } as const;
          const r = await q.one(
            "UPDATE accounts SET jwk_json = ?, jwk_thumbprint = ?, updated_at = ? WHERE id = ? AND jwk_thumbprint = ? AND status = 'valid' RETURNING *",
            JSON.stringify(jwk),
            thumbprint,
            now.getTime(),
            id,
            oldThumbprint,
          );
          return r ? ({ ok: true, account: rowToAccount(r) } as const) : ({ ok: false, reason: 'gone' } as const);
        });
      } catch (err) {
        // Another account took the new key between our check and our write (another replica's
        // key change committed first): the unique key refused ours, and the holder is on record now.
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
        const account = await read(db, id);
        const holder = account && (await byThumbprint(db, account.directory, thumbprint));
        if (holder && holder.id !== id) return { ok: false, reason: 'conflict', conflictingAccountId: holder.id as string };
        return { ok: false, reason: 'gone' };
      }
    },
  };
}
