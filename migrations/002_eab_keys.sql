-- External Account Binding keys (RFC 8555 §7.3.4). The HMAC key must be recoverable to verify a
-- binding, so it is stored encrypted (AES-256-GCM) under a key-encryption key kept outside the
-- database; a copy of the database alone does not reveal the keys.
CREATE TABLE eab_keys (
  id                TEXT PRIMARY KEY,
  directory         TEXT NOT NULL,
  label             TEXT NOT NULL,
  hmac_key_enc      TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  expires_at        INTEGER,
  revoked_at        INTEGER,
  bound_account_id  TEXT REFERENCES accounts(id),
  bound_at          INTEGER
);
