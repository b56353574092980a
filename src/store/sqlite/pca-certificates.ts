import { rowToPcaCertificate } from '../rows.js';
import type { Store } from '../types.js';
import type { Db } from './db.js';

// Issue 10: what the gateway learned of the PCA's certificates (migration 011), so that a search
// after a restart starts from what the last one found instead of asking the PCA for all of it again.

export function sqlitePcaCertificates(db: Db): Store['pcaCertificates'] {
  return {
    // One statement for a whole page of serials: the list is bound as one JSON text.
    getMany: async (ca, serials) =>
      serials.length === 0
        ? []
        : db.all('SELECT * FROM pca_certificates WHERE ca = ? AND serial IN (SELECT value FROM json_each(?))', ca, JSON.stringify(serials)).map(rowToPcaCertificate),
    record: async (ca, records, nowMs) => {
      if (records.length === 0) return;
      db.tx(() => {
        for (const r of records) {
          db.run(
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
