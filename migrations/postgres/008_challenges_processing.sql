-- Challenges left processing, for start-up recovery (see ../008_challenges_processing.sql).
CREATE INDEX challenges_processing ON challenges (status) WHERE status = 'processing';
