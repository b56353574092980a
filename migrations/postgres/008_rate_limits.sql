-- Issue 9 item 5: rate limits kept in the database, so they hold across restarts and replicas
-- (RFC 8555 §6.6). One row per counted event (a new order, a new account, a failed validation) of a
-- sliding window: a limit counts the rows of its name and subject younger than its window, in the
-- same transaction that adds one, so the check and the count are one write. expires_at is when the
-- event has left the window it was counted under; housekeeping deletes it then, so the table holds
-- at most a window's worth of events per subject.
CREATE TABLE rate_limit_events (
  name        TEXT NOT NULL,
  subject     TEXT NOT NULL,
  at          BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL
);
CREATE INDEX rate_limit_events_by_subject ON rate_limit_events (name, subject, at);
CREATE INDEX rate_limit_events_expiry ON rate_limit_events (expires_at);

-- An EAB key may carry its own limits for its account (eab create --rate-…), kept with the key
-- like its policy (NULL: the directory's limits).
ALTER TABLE eab_keys ADD COLUMN rate_limits_json TEXT;

-- The concurrent limits count live rows; partial indexes keep those counts to the live rows alone.
CREATE INDEX orders_pending_by_account ON orders (account_id, expires_at) WHERE status = 'pending';
CREATE INDEX challenges_processing ON challenges (authz_id) WHERE status = 'processing';
