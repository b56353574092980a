-- Issue 13: the audit trail. One row per thing an operator may have to account for later: an
-- account created or deactivated, an EAB key used, a certificate issued or revoked, a newOrder or
-- finalize refused by policy, an admin action. Append-only: the triggers below refuse UPDATE and
-- DELETE, so a row once written stays as it was (db copy --force empties the table on the target
-- with TRUNCATE, which is a different statement).
CREATE TABLE audit_events (
  id              TEXT PRIMARY KEY,
  at              INTEGER NOT NULL,
  -- who: 'account' (an ACME client), 'admin' (a token of the admin listener), 'cli' (an admin
  -- command on the database), 'system' (the gateway's own background work)
  actor           TEXT NOT NULL CHECK (actor IN ('account', 'admin', 'cli', 'system')),
  actor_name      TEXT,
  client_ip       TEXT,
  eab_key_id      TEXT,
  action          TEXT NOT NULL,
  directory       TEXT,
  account_id      TEXT,
  order_id        TEXT,
  certificate_id  TEXT,
  serial_hex      TEXT,
  detail_json     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_time ON audit_events (at, id);
CREATE INDEX audit_events_by_order ON audit_events (order_id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
