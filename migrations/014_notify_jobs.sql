-- Issue 13: webhook deliveries run from the durable job queue as jobs of a third kind, 'notify',
-- whose payload (the webhook and the signed body) travels with the job in payload_json: queued in
-- one INSERT, retried with backoff like every job. SQLite cannot change a CHECK constraint in place,
-- so the table is rebuilt with the same columns and indexes (no foreign key points at it).
CREATE TABLE jobs_new (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('validate', 'issue', 'notify')),
  subject_id   TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,
  deadline_at  INTEGER NOT NULL,
  lease_owner  TEXT,
  lease_until  INTEGER,
  last_error   TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  payload_json TEXT
);
INSERT INTO jobs_new (id, kind, subject_id, state, attempts, run_at, deadline_at, lease_owner, lease_until, last_error, created_at, updated_at)
  SELECT id, kind, subject_id, state, attempts, run_at, deadline_at, lease_owner, lease_until, last_error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_by_subject ON jobs (kind, subject_id);
