-- Initial schema. Portable SQL (SQLite now, PostgreSQL later): TEXT ids, INTEGER epoch-ms times,
-- JSON kept as TEXT. Every table that a client reaches carries the ACME directory it belongs to.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE accounts (
  id              TEXT PRIMARY KEY,
  directory       TEXT NOT NULL,
  jwk_thumbprint  TEXT NOT NULL,
  jwk_json        TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
  contact_json    TEXT NOT NULL DEFAULT '[]',
  tos_agreed      INTEGER NOT NULL DEFAULT 0,
  eab_key_id      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (directory, jwk_thumbprint)
);

CREATE TABLE orders (
  id               TEXT PRIMARY KEY,
  directory        TEXT NOT NULL,
  account_id       TEXT NOT NULL REFERENCES accounts(id),
  status           TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  identifiers_json TEXT NOT NULL,
  not_before       INTEGER,
  not_after        INTEGER,
  profile          TEXT,
  replaces         TEXT,
  expires_at       INTEGER NOT NULL,
  csr_der          BLOB,
  error_json       TEXT,
  certificate_id   TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX orders_by_account ON orders (account_id, created_at, id);
CREATE INDEX orders_by_status ON orders (status);

CREATE TABLE authorizations (
  id               TEXT PRIMARY KEY,
  directory        TEXT NOT NULL,
  account_id       TEXT NOT NULL REFERENCES accounts(id),
  identifier_type  TEXT NOT NULL,
  identifier_value TEXT NOT NULL,
  wildcard         INTEGER NOT NULL DEFAULT 0,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
  expires_at       INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);

CREATE TABLE order_authorizations (
  order_id  TEXT NOT NULL REFERENCES orders(id),
  authz_id  TEXT NOT NULL REFERENCES authorizations(id),
  position  INTEGER NOT NULL,
  PRIMARY KEY (order_id, authz_id)
);
CREATE INDEX order_authorizations_by_authz ON order_authorizations (authz_id);

CREATE TABLE challenges (
  id            TEXT PRIMARY KEY,
  authz_id      TEXT NOT NULL REFERENCES authorizations(id),
  type          TEXT NOT NULL,
  token         TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at  INTEGER,
  error_json    TEXT,
  record_json   TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX challenges_by_authz ON challenges (authz_id);

CREATE TABLE certificates (
  id                   TEXT PRIMARY KEY,
  directory            TEXT NOT NULL,
  order_id             TEXT REFERENCES orders(id),
  account_id           TEXT REFERENCES accounts(id),
  serial_hex           TEXT NOT NULL UNIQUE,
  pca_serial           TEXT NOT NULL,
  leaf_pem             TEXT NOT NULL,
  fullchain_pem        TEXT NOT NULL,
  spki_sha256          TEXT NOT NULL,
  aki_b64              TEXT,
  not_before           INTEGER NOT NULL,
  not_after            INTEGER NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
  revoked_at           INTEGER,
  revocation_reason    INTEGER,
  replaced_by_order_id TEXT,
  created_at           INTEGER NOT NULL
);
CREATE INDEX certificates_by_spki ON certificates (spki_sha256);
CREATE INDEX certificates_by_order ON certificates (order_id);

-- Every call to the PCA sign endpoint is recorded here before it is sent, so that an outcome lost to
-- a crash or a timeout is reconciled against the PCA instead of forgotten or silently issued twice.
CREATE TABLE issuance_attempts (
  id           TEXT PRIMARY KEY,
  order_id     TEXT NOT NULL REFERENCES orders(id),
  spki_sha256  TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  outcome      TEXT NOT NULL CHECK (outcome IN ('pending', 'issued', 'failed', 'unknown')),
  pca_serial   TEXT,
  error        TEXT
);
CREATE INDEX issuance_attempts_by_order ON issuance_attempts (order_id);

-- Durable background work: challenge validation and issuance. A job is claimed with a lease; a lease
-- that runs out (crash) makes the job claimable again.
CREATE TABLE jobs (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('validate', 'issue')),
  subject_id   TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,
  deadline_at  INTEGER NOT NULL,
  lease_owner  TEXT,
  lease_until  INTEGER,
  last_error   TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_by_subject ON jobs (kind, subject_id);

-- Redeemed nonces (RFC 8555 §6.5). Nonces themselves are HMAC-signed and cost no write to issue.
CREATE TABLE used_nonces (
  nonce       TEXT PRIMARY KEY,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX used_nonces_expiry ON used_nonces (expires_at);
