-- Issue 10: what the gateway learned of the PCA's certificates (Get issued cert, ncp-pca-api §3.5),
-- so that a reconciliation or an audit after a restart does not ask the PCA again for certificates
-- it already looked at (twin of migrations/011_pca_certificates.sql).
CREATE TABLE pca_certificates (
  ca TEXT NOT NULL,
  serial TEXT NOT NULL,
  spki_sha256 TEXT,
  not_before BIGINT NOT NULL,
  cert_pem TEXT NOT NULL,
  chain_pem TEXT NOT NULL,
  learned_at BIGINT NOT NULL,
  PRIMARY KEY (ca, serial)
);
CREATE INDEX pca_certificates_by_not_before ON pca_certificates (not_before);
