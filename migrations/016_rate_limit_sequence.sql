-- Issue 11: rate-limit windows counted in O(log n) instead of COUNT(*) over the window
-- (store/sqlite/rate-limits.ts). Each event carries its subject's sequence number; the events in a
-- window are the newest one's number minus the oldest one's in the window, plus one. The events
-- already recorded are numbered in time order.
ALTER TABLE rate_limit_events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE rate_limit_events SET seq = numbered.n
  FROM (SELECT rowid AS r, ROW_NUMBER() OVER (PARTITION BY name, subject ORDER BY at, rowid) AS n FROM rate_limit_events) AS numbered
  WHERE rate_limit_events.rowid = numbered.r;
DROP INDEX rate_limit_events_by_subject;
CREATE INDEX rate_limit_events_by_subject ON rate_limit_events (name, subject, at, seq);
