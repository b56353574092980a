import { rowToPreauthorizationUse } from '../rows.js';
import type { PreauthorizationUse, Store } from '../types.js';
import { BOUND_LIMIT, type Db } from './db.js';

// The record of pre-authorized identifiers (issue 9, migration 009): written by the order intent in
// the same transaction as the authorization it made valid, read by `eab list` and `eab uses`.

/** Records one use (inside the caller's transaction). */
export function recordPreauthorization(db: Db, use: Omit<PreauthorizationUse, 'usedAt'>, nowMs: number): void {
  db.run(
    `INSERT INTO preauthorization_uses (authz_id, eab_key_id, directory, account_id, order_id, identifier_type, identifier_value, wildcard, scope, used_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    use.authzId,
    use.eabKeyId,
    use.directory,
    use.accountId,
    use.orderId,
    use.identifier.type,
    use.identifier.value,
    use.wildcard ? 1 : 0,
    use.scope,
    nowMs,
  );
}

export function sqlitePreauthorizations(db: Db): Store['preauthorizations'] {
  return {
    listForKey: async (eabKeyId, limit) =>
      db.all(`SELECT * FROM preauthorization_uses WHERE eab_key_id = ? ORDER BY used_at DESC, authz_id ${BOUND_LIMIT}`, eabKeyId, limit).map(rowToPreauthorizationUse),
    usage: async (directory) =>
      db
        .all('SELECT eab_key_id, COUNT(*) AS n, MAX(used_at) AS last FROM preauthorization_uses WHERE directory = ? GROUP BY eab_key_id ORDER BY eab_key_id', directory)
        .map((r) => ({ eabKeyId: r.eab_key_id as string, count: Number(r.n), lastUsedAt: new Date(r.last as number) })),
  };
}
