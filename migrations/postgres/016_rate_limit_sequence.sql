-- Issue 11: rate-limit windows counted in O(log n) instead of COUNT(*) over the window (the
-- SQLite migration of the same number explains). The events already recorded are numbered in time order.
ALTER TABLE rate_limit_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE rate_limit_events SET seq = numbered.n
  FROM (SELECT ctid AS c, ROW_NUMBER() OVER (PARTITION BY name, subject ORDER BY at) AS n FROM rate_limit_events) AS numbered
  WHERE rate_limit_events.ctid = numbered.c;
DROP INDEX rate_limit_events_by_subject;
CREATE INDEX rate_limit_events_by_subject ON rate_limit_events (name, subject, at, seq);

-- The database numbers each new event, so that the replicas of the previous version, which write
-- events without a number while a rolling upgrade runs, do not break the count: an event gets its
-- subject's next number, and a time no earlier than the subject's newest (a clock stepped back, or
-- a replica's clock behind another's, moves the event forward with its expiry; it never leaves its
-- window early). A row written with its number (the SQLite-to-PostgreSQL copy) keeps it. The
-- writers serialize on the subject's advisory lock (store/postgres/rate-limits.ts).
CREATE FUNCTION rate_limit_events_number() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  newest RECORD;
BEGIN
  IF NEW.seq <> 0 THEN
    RETURN NEW;
  END IF;
  SELECT at, seq INTO newest FROM rate_limit_events
    WHERE name = NEW.name AND subject = NEW.subject ORDER BY at DESC, seq DESC LIMIT 1;
  IF NOT FOUND THEN
    NEW.seq := 1;
    RETURN NEW;
  END IF;
  IF newest.at > NEW.at THEN
    NEW.expires_at := NEW.expires_at + (newest.at - NEW.at);
    NEW.at := newest.at;
  END IF;
  NEW.seq := newest.seq + 1;
  RETURN NEW;
END
$$;
CREATE TRIGGER rate_limit_events_numbered BEFORE INSERT ON rate_limit_events
  FOR EACH ROW EXECUTE FUNCTION rate_limit_events_number();
