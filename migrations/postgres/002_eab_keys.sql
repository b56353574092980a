-- External Account Binding keys (RFC 8555 §7.3.4); see ../002_eab_keys.sql. The HMAC key is stored
-- encrypted (AES-256-GCM) under a key-encryption key kept outside the database.
CREATE TABLE eab_keys (
  id                TEXT PRIMARY KEY,
  directory         TEXT NOT NULL,
  label             TEXT NOT NULL,
  hmac_key_enc      TEXT NOT NULL,
  created_at        BIGINT NOT NULL,
  expires_at        BIGINT,
  revoked_at        BIGINT,
  bound_account_id  TEXT REFERENCES accounts(id),
  bound_at          BIGINT
);
