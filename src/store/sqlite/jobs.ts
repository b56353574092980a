import { deleteInBatches } from '../batches.js';
import { rowToJob } from '../rows.js';
import type { Job, JobKind, NewJob, Store } from '../types.js';
import { BOUND_LIMIT, type Db } from './db.js';

// Durable background work with leases: a job is claimed by an owner until lease_until; a lease that
// runs out (the owner crashed) makes it claimable again. The two helpers below queue and close a
// subject's job inside the transaction of the intent that starts or settles the subject.

export function insertJob(db: Db, kind: JobKind, subjectId: string, job: NewJob, nowMs: number): void {
  // A job leased at creation (NewJob.lease) is its first attempt, already running.
  db.run(
    `INSERT INTO jobs (id, kind, subject_id, state, attempts, run_at, deadline_at, lease_owner, lease_until, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    job.id,
    kind,
    subjectId,
    job.lease ? 'running' : 'queued',
    job.lease ? 1 : 0,
    job.runAt,
    job.deadlineAt,
    job.lease?.owner ?? null,
    job.lease?.untilMs ?? null,
    nowMs,
    nowMs,
  );
}

/** Ends the subject's live (queued or running) jobs of that kind. */
export function closeLiveJobs(db: Db, kind: JobKind, subjectId: string, state: 'done' | 'failed', error: string | null, nowMs: number): void {
  db.run(
    `UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE kind = ? AND subject_id = ? AND state IN ('queued', 'running')`,
    state,
    error,
    nowMs,
    kind,
    subjectId,
  );
}

export function sqliteJobs(db: Db): Store['jobs'] {
  return {
    claimDue: async (owner, nowMs, leaseMs, limit, kind) => {
      // Looked for before any write lock is taken: most runner ticks find nothing, and an empty
      // IMMEDIATE transaction still locks and unlocks the WAL. Nothing can run between this read
      // and the transaction (one process, no await between them), and each UPDATE re-checks anyway.
      const due = db.all(
        `SELECT id FROM jobs WHERE ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?))
           AND (? IS NULL OR kind = ?)
         ORDER BY run_at ${BOUND_LIMIT}`,
        nowMs,
        nowMs,
        kind ?? null,
        kind ?? null,
        limit,
      );
      if (due.length === 0) return [];
      return db.tx(() => {
        const claimed: Job[] = [];
        for (const { id } of due) {
          const n = db.run(
            `UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id = ? AND ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?))`,
            owner,
            nowMs + leaseMs,
            nowMs,
            id,
            nowMs,
            nowMs,
          );
          if (n === 1) claimed.push(rowToJob(db.one('SELECT * FROM jobs WHERE id = ?', id)!));
        }
        return claimed;
      });
    },
    reschedule: async (id, owner, runAt, error, nowMs) =>
      db.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        runAt,
        error,
        nowMs,
        id,
        owner,
      ) === 1,
    handBack: async (id, owner, error, nowMs) =>
      db.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, attempts = MAX(attempts - 1, 0), last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        nowMs,
        error,
        nowMs,
        id,
        owner,
      ) === 1,
    finish: async (id, state, error, nowMs) => {
      db.run(
        `UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state IN ('queued', 'running')`,
        state,
        error,
        nowMs,
        id,
      );
    },
    renewLease: async (id, owner, leaseUntilMs, nowMs) =>
      db.run(
        `UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        leaseUntilMs,
        nowMs,
        id,
        owner,
      ) === 1,
    releaseAll: async (owner, nowMs) =>
      db.run(
        `UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state = 'running' AND lease_owner = ?`,
        nowMs,
        owner,
      ),
    get: async (id) => {
      const r = db.one('SELECT * FROM jobs WHERE id = ?', id);
      return r ? rowToJob(r) : null;
    },
    countActive: async () => db.one("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')")!.n as number,
    // In batches (store/batches.ts). `run_at < ?` keeps the search on the jobs_due index: a finished
    // job ran at or before its last update, except one that ended while waiting for a retry, which
    // then stays until its retry time (seconds to a few hours) has passed the cut-off too.
    pruneFinished: (beforeMs) =>
      deleteInBatches((limit) =>
        db.run(
          `DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE state IN ('done', 'failed') AND run_at < ? AND updated_at < ? ${BOUND_LIMIT})`,
          beforeMs,
          beforeMs,
          limit,
        ),
      ),
    // A SQLite file has one writer process: at its start-up, every running job's owner is gone.
    requeueRunning: async (nowMs) =>
      db.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state = 'running'`,
        nowMs,
        nowMs,
      ),
    ensure: async (kind, subjectId, job, nowMs) =>
      db.tx(() => {
        const live = db.one("SELECT 1 FROM jobs WHERE kind = ? AND subject_id = ? AND state IN ('queued', 'running')", kind, subjectId);
        if (live) return false;
        insertJob(db, kind, subjectId, job, nowMs);
        return true;
      }),
  };
}
