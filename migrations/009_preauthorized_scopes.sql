-- Issue 9 item 6: pre-authorized scopes. An EAB key may carry names, suffixes and CIDRs its account
-- gets without a challenge (for hosts the validator cannot reach), kept with the key as JSON (NULL:
-- none); they are used only where the directory's policy has preAuthorization: true.
ALTER TABLE eab_keys ADD COLUMN preauth_json TEXT;

-- Every use, written in the same transaction as the order whose authorization it made valid: which
-- key, account, order, authorization and identifier, the scope that covered it, and when. Kept (an
-- audit record, one row per pre-authorized authorization: it grows as authorizations do).
CREATE TABLE preauthorization_uses (
  authz_id          TEXT PRIMARY KEY REFERENCES authorizations(id),
  eab_key_id        TEXT NOT NULL REFERENCES eab_keys(id),
  directory         TEXT NOT NULL,
  account_id        TEXT NOT NULL REFERENCES accounts(id),
  order_id          TEXT NOT NULL REFERENCES orders(id),
  identifier_type   TEXT NOT NULL,
  identifier_value  TEXT NOT NULL,
  wildcard          INTEGER NOT NULL DEFAULT 0,
  scope             TEXT NOT NULL,
  used_at           INTEGER NOT NULL
);
CREATE INDEX preauthorization_uses_by_key ON preauthorization_uses (eab_key_id, used_at);
CREATE INDEX preauthorization_uses_by_directory ON preauthorization_uses (directory, eab_key_id);
