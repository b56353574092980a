-- Challenges left processing, for start-up recovery (see ../015_challenges_processing.sql).
CREATE INDEX challenges_processing_status ON challenges (status) WHERE status = 'processing';
