import { deleteInBatches } from '../batches.js';
import type { Store } from '../types.js';
import { BOUND_LIMIT, type Db } from './db.js';

// Redeemed nonces (RFC 8555 §6.5): the unique key makes a replay lose the insert.

export function sqliteNonces(db: Db): Store['nonces'] {
  return {
    redeem: async (nonce, expiresAtMs) =>
      db.run('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING', nonce, expiresAtMs) === 1,
    prune: (nowMs) => deleteInBatches((limit) => db.run(`DELETE FROM used_nonces WHERE rowid IN (SELECT rowid FROM used_nonces WHERE expires_at < ? ${BOUND_LIMIT})`, nowMs, limit)),
  };
}
