-- Issue 13: webhook deliveries are jobs of a third kind, 'notify', with their payload on the job
-- (the twin of migrations/014_notify_jobs.sql).
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('validate', 'issue', 'notify'));
ALTER TABLE jobs ADD COLUMN payload_json TEXT;
