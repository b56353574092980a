import { CERTIFICATE_REVOKE } from '../../acme/status.js';
import { rowToCertificate } from '../rows.js';
import type { IssuedCertificate, Store } from '../types.js';
import { statusIn, type PgDb, type Queries } from './db.js';

// Certificates the PCA issued: attached to their order, or kept as orphans so that none is lost.
// The helpers below run inside an orders intent's transaction (orders.completeIssuance).

/**
 * Inserts the certificate unless its serial is on record, and returns the id of the row that holds
 * the serial: this one, or the one already there (idempotent by serial). When another replica (the
 * PCA audit, a reconciliation) inserts the same serial at once, the unique key makes this insert
 * wait for it, and the read after it sees that row.
 */
export async function insertCertificate(
  q: Queries,
  cert: IssuedCertificate,
  directory: string,
  orderId: string | null,
  accountId: string | null,
  nowMs: number,
): Promise<string> {
  const inserted = await q.one(
    `INSERT INTO certificates (id, directory, order_id, account_id, serial_hex, pca_serial, leaf_pem, fullchain_pem,
       spki_sha256, aki_b64, not_before, not_after, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?)
     ON CONFLICT (serial_hex) DO NOTHING
     RETURNING id`,
    cert.id,
    directory,
    orderId,
    accountId,
    cert.serialHex,
    cert.pcaSerial,
    cert.leafPem,
    cert.fullchainPem,
    cert.spkiSha256,
    cert.akiB64,
    cert.notBefore.getTime(),
    cert.notAfter.getTime(),
    nowMs,
  );
  if (inserted) return inserted.id as string;
  return (await q.one('SELECT id FROM certificates WHERE serial_hex = ?', cert.serialHex))!.id as string;
}

/** Gives an orphan (no account yet) to the order that adopted its serial. */
export async function claimOrphan(q: Queries, certId: string, orderId: string, accountId: string): Promise<void> {
  await q.run('UPDATE certificates SET order_id = ?, account_id = ? WHERE id = ? AND account_id IS NULL', orderId, accountId, certId);
}

/** RFC 9773 §5: the first order that completes with `replaces` marks the certificate replaced. */
export async function markReplaced(q: Queries, certId: string, byOrderId: string): Promise<void> {
  await q.run('UPDATE certificates SET replaced_by_order_id = ? WHERE id = ? AND replaced_by_order_id IS NULL', byOrderId, certId);
}

export function postgresCertificates(db: PgDb): Store['certificates'] {
  return {
    get: async (id) => {
      const r = await db.one('SELECT * FROM certificates WHERE id = ?', id);
      return r ? rowToCertificate(r) : null;
    },
    getBySerial: async (serialHex) => {
      const r = await db.one('SELECT * FROM certificates WHERE serial_hex = ?', serialHex);
      return r ? rowToCertificate(r) : null;
    },
    recordOrphan: async (cert, directory, orderId, now) => {
      await insertCertificate(db, cert, directory, orderId, null, now.getTime());
    },
    revoke: async (id, reason, now) =>
      (await db.run(
        `UPDATE certificates SET status = ?, revoked_at = ?, revocation_reason = ? WHERE id = ? AND ${statusIn(CERTIFICATE_REVOKE)}`,
        CERTIFICATE_REVOKE.to,
        now.getTime(),
        reason,
        id,
        ...CERTIFICATE_REVOKE.from,
      )) === 1,
  };
}
