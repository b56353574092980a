-- Issue 10: what the gateway learned of the PCA's certificates (Get issued cert, ncp-pca-api §3.5),
-- so that a reconciliation or an audit after a restart does not ask the PCA again for certificates
-- it already looked at. One row per certificate of one CA (serials are unique per CA, so the key is
-- the CA's tag and the serial as the PCA writes it). The facts never change; rows whose notBefore is
-- older than any search looks back are pruned.
CREATE TABLE pca_certificates (
  ca TEXT NOT NULL,
  serial TEXT NOT NULL,
  -- SHA-256 of the SubjectPublicKeyInfo, hex; NULL when the PCA's PEM did not parse
  spki_sha256 TEXT,
  not_before INTEGER NOT NULL,
  cert_pem TEXT NOT NULL,
  -- the caChain the PCA reported with it, PEM blocks one after another ('' for none)
  chain_pem TEXT NOT NULL,
  learned_at INTEGER NOT NULL,
  PRIMARY KEY (ca, serial)
);
CREATE INDEX pca_certificates_by_not_before ON pca_certificates (not_before);
