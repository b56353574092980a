import { rowToPcaCertificate } from '../rows.js';
import type { Store } from '../types.js';
import type { PgDb } from './db.js';

// Issue 10: what the gateway learned of the PCA's certificates (migration 011), shared by every
// replica, so that none of them asks the PCA again for a certificate another already looked at.

export function postgresPcaCertificates(db: PgDb): Store['pcaCertificates'] {
  return {
    // One statement for a whole page of serials: the list is bound as one text[] parameter.
    getMany: async (ca, serials) =>
      serials.length === 0 ? [] : (await db.all('SELECT * FROM pca_certificates WHERE ca = ? AND serial = ANY(?::text[])', ca, [...serials])).map(rowToPcaCertificate),
    record: async (ca, records, nowMs) => {
      if (records.length === 0) return;
      await db.tx(async (q) => {
        for (const r of records) {
          await q.run(
            `INSERT INTO pca_certificates (ca, serial, spki_sha256, not_before, cert_pem, chain_pem, learned_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ca, serial) DO NOTHING`,
            ca,
            r.serialNo,
            r.spkiSha256,
            r.notBeforeMs,
            r.certPem,
            r.caChainPems.join(''),
            nowMs,
          );
        }
      });
    },
    prune: async (beforeMs) => db.run('DELETE FROM pca_certificates WHERE not_before < ?', beforeMs),
  };
}
