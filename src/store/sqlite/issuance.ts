import { rowToAttempt } from '../rows.js';
import type { Store } from '../types.js';
import type { Db } from './db.js';

// Issuance attempts: every PCA sign call is recorded before it is sent, so an outcome lost to a
// crash or a timeout is reconciled against the PCA instead of forgotten or issued twice.

/** Records an attempt's outcome (also inside an orders intent's transaction). */
export function finishAttempt(db: Db, id: string, outcome: string, pcaSerial: string | null, error: string | null, nowMs: number): void {
  db.run(
    'UPDATE issuance_attempts SET outcome = ?, pca_serial = COALESCE(?, pca_serial), error = ?, finished_at = ? WHERE id = ?',
    outcome,
    pcaSerial,
    error,
    nowMs,
    id,
  );
}

export function sqliteIssuance(db: Db): Store['issuance'] {
  return {
    recordAttempt: async (a) => {
      db.run(
        "INSERT INTO issuance_attempts (id, order_id, spki_sha256, started_at, outcome) VALUES (?, ?, ?, ?, 'pending')",
        a.id,
        a.orderId,
        a.spkiSha256,
        a.startedAt,
      );
    },
    finishAttempt: async (id, outcome, pcaSerial, error, now) => {
      finishAttempt(db, id, outcome, pcaSerial, error, now);
    },
    failOpenAttempts: async (orderId, error, now) =>
      db.run(
        "UPDATE issuance_attempts SET outcome = 'failed', finished_at = ?, error = ? WHERE order_id = ? AND outcome IN ('pending', 'unknown')",
        now,
        error,
        orderId,
      ),
    attemptsForOrder: async (orderId) => db.all('SELECT * FROM issuance_attempts WHERE order_id = ? ORDER BY started_at', orderId).map(rowToAttempt),
    latestForKey: async (spkiSha256, directory) => {
      const r =
        directory === undefined
          ? db.one('SELECT * FROM issuance_attempts WHERE spki_sha256 = ? ORDER BY started_at DESC LIMIT 1', spkiSha256)
          : db.one(
              `SELECT a.* FROM issuance_attempts a JOIN orders o ON o.id = a.order_id
               WHERE a.spki_sha256 = ? AND o.directory = ? ORDER BY a.started_at DESC LIMIT 1`,
              spkiSha256,
              directory,
            );
      return r ? rowToAttempt(r) : null;
    },
    earliestStartedAt: async () => (db.one('SELECT MIN(started_at) AS t FROM issuance_attempts')?.t as number | null) ?? null,
  };
}
