-- Issue 13: the audit trail (the twin of migrations/013_audit_events.sql). Append-only: the
-- trigger refuses UPDATE and DELETE (db copy --force empties it with TRUNCATE, a separate statement).
CREATE TABLE audit_events (
  id              TEXT PRIMARY KEY,
  at              BIGINT NOT NULL,
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
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
