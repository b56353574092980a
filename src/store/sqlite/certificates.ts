import { CERTIFICATE_REVOKE } from '../../acme/status.js';
import type { IssuedCertificate, Store } from '../types.js';
import { rowToCertificate } from '../rows.js';
import { statusIn, type Db } from './db.js';

// Certificates the PCA issued: attached to their order, or kept as orphans so that none is lost.
// The helpers below run inside an orders intent's transaction (orders.completeIssuance).

/** Inserts the certificate; a serial already on record is left as it is (idempotent by serial). */
export function insertCertificate(db: Db, cert: IssuedCertificate, directory: string, orderId: string | null, accountId: string | null, nowMs: number): void {
  db.run(
    `INSERT INTO certificates (id, directory, order_id, account_id, serial_hex, pca_serial, leaf_pem, fullchain_pem,
       spki_sha256, aki_b64, not_before, not_after, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?)
     ON CONFLICT (serial_hex) DO NOTHING`,
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
}

export function certificateIdBySerial(db: Db, serialHex: string): string | null {
  return (db.one('SELECT id FROM certificates WHERE serial_hex = ?', serialHex)?.id as string | undefined) ?? null;
}

/** Gives an orphan (no account yet) to the order that adopted its serial. */
export function claimOrphan(db: Db, certId: string, orderId: string, accountId: string): void {
  db.run('UPDATE certificates SET order_id = ?, account_id = ? WHERE id = ? AND account_id IS NULL', orderId, accountId, certId);
}

/** RFC 9773 §5: the first order that completes with `replaces` marks the certificate replaced. */
export function markReplaced(db: Db, certId: string, byOrderId: string): void {
  db.run('UPDATE certificates SET replaced_by_order_id = ? WHERE id = ? AND replaced_by_order_id IS NULL', byOrderId, certId);
}

export function sqliteCertificates(db: Db): Store['certificates'] {
  return {
    get: async (id) => {
      const r = db.one('SELECT * FROM certificates WHERE id = ?', id);
      return r ? rowToCertificate(r) : null;
    },
    getBySerial: async (serialHex) => {
      const r = db.one('SELECT * FROM certificates WHERE serial_hex = ?', serialHex);
      return r ? rowToCertificate(r) : null;
    },
    recordOrphan: async (cert, directory, orderId, now) => {
      insertCertificate(db, cert, directory, orderId, null, now.getTime());
    },
    revoke: async (id, reason, now) =>
      db.run(
        `UPDATE certificates SET status = ?, revoked_at = ?, revocation_reason = ? WHERE id = ? AND ${statusIn(CERTIFICATE_REVOKE)}`,
        CERTIFICATE_REVOKE.to,
        now.getTime(),
        reason,
        id,
      ) === 1,
  };
}
