import { deleteInBatches } from '../batches.js';
import type { Store } from '../types.js';
import type { PgDb } from './db.js';

// Redeemed nonces (RFC 8555 §6.5): the primary key makes a replay lose the insert, on whichever
// replica it arrives; a concurrent insert of the same nonce waits for the first and then does nothing.

export function postgresNonces(db: PgDb): Store['nonces'] {
  return {
    redeem: async (nonce, expiresAtMs) =>
      (await db.run('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING', nonce, expiresAtMs)) === 1,
    // In batches (store/batches.ts); SKIP LOCKED so two replicas pruning at once take different rows.
    prune: (nowMs) =>
      deleteInBatches((limit) =>
        db.run('DELETE FROM used_nonces WHERE nonce IN (SELECT nonce FROM used_nonces WHERE expires_at < ? LIMIT ? FOR UPDATE SKIP LOCKED)', nowMs, limit),
      ),
  };
}
