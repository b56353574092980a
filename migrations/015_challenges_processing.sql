-- Issue 11: start-up recovery looks for challenges left `processing` without a live job; without an
-- index that read every challenge ever made (three per authorization). A partial index holds only
-- the few rows being validated, so it costs nothing on the other writes.
CREATE INDEX challenges_processing_status ON challenges (status) WHERE status = 'processing';
