-- Issue 11: rate-limit windows counted in O(log n) instead of COUNT(*) over the window (the
-- SQLite migration of the same number explains). The events already recorded are numbered in time order.
ALTER TABLE rate_limit_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE rate_limit_events SET seq = numbered.n
  FROM (SELECT ctid AS c, ROW_NUMBER() OVER (PARTITION BY name, subject ORDER BY at) AS n FROM rate_limit_events) AS numbered
  WHERE rate_limit_events.ctid = numbered.c;
DROP INDEX rate_limit_events_by_subject;
CREATE INDEX rate_limit_events_by_subject ON rate_limit_events (name, subject, at, seq);
