import { deleteInBatches } from '../batches.js';
import { rowToJob } from '../rows.js';
import type { JobKind, NewJob, Store } from '../types.js';
import { LOCK_PREFIX, type PgDb, type Queries } from './db.js';

// Durable background work with leases, shared by every replica: a job is claimed by an owner until
// lease_until; a lease that runs out (the replica died) makes it claimable again by any replica.
// The two helpers below queue and close a subject's job inside the transaction of the intent that
// starts or settles the subject.

export async function insertJob(q: Queries, kind: JobKind, subjectId: string, job: NewJob, nowMs: number): Promise<void> {
  // A job leased at creation (NewJob.lease) is its first attempt, already running.
  await q.run(
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
export async function closeLiveJobs(q: Queries, kind: JobKind, subjectId: string, state: 'done' | 'failed', error: string | null, nowMs: number): Promise<void> {
  await q.run(
    `UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE kind = ? AND subject_id = ? AND state IN ('queued', 'running')`,
    state,
    error,
    nowMs,
    kind,
    subjectId,
  );
}

export function postgresJobs(db: PgDb): Store['jobs'] {
  return {
    // One statement: the due rows are locked as they are picked, and rows another replica is
    // claiming at this moment are skipped rather than waited for (FOR UPDATE SKIP LOCKED), so two
    // replicas polling together never get the same job and never block each other. MATERIALIZED
    // keeps the locking SELECT evaluated once, apart from the UPDATE.
    claimDue: async (owner, nowMs, leaseMs, limit, kind) => {
      const rows = await db.all(
        `WITH due AS MATERIALIZED (
           SELECT id FROM jobs
           WHERE ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?))
             AND (?::text IS NULL OR kind = ?)
           ORDER BY run_at, id
           LIMIT ?
           FOR UPDATE SKIP LOCKED
         )
         UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
         FROM due WHERE jobs.id = due.id
         RETURNING jobs.*`,
        nowMs,
        nowMs,
        kind ?? null,
        kind ?? null,
        limit,
        owner,
        nowMs + leaseMs,
        nowMs,
      );
      return rows.map(rowToJob).sort((a, b) => a.runAt - b.runAt || (a.id < b.id ? -1 : 1));
    },
    reschedule: async (id, owner, runAt, error, nowMs) =>
      (await db.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        runAt,
        error,
        nowMs,
        id,
        owner,
      )) === 1,
    handBack: async (id, owner, error, nowMs) =>
      (await db.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, attempts = GREATEST(attempts - 1, 0), last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        nowMs,
        error,
        nowMs,
        id,
        owner,
      )) === 1,
    finish: async (id, state, error, nowMs) => {
      await db.run(
        `UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state IN ('queued', 'running')`,
        state,
        error,
        nowMs,
        id,
      );
    },
    renewLease: async (id, owner, leaseUntilMs, nowMs) =>
      (await db.run(
        `UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        leaseUntilMs,
        nowMs,
        id,
        owner,
      )) === 1,
    releaseAll: async (owner, nowMs) =>
      db.run(
        `UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state = 'running' AND lease_owner = ?`,
        nowMs,
        owner,
      ),
    get: async (id) => {
      const r = await db.one('SELECT * FROM jobs WHERE id = ?', id);
      return r ? rowToJob(r) : null;
    },
    countActive: async () => (await db.one("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')"))!.n as number,
    // In batches (store/batches.ts), the same rule as the SQLite store's (run_at bounds the index search).
    pruneFinished: (beforeMs) =>
      deleteInBatches((limit) =>
        db.run(
          `DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs WHERE state IN ('done', 'failed') AND run_at < ? AND updated_at < ? LIMIT ? FOR UPDATE SKIP LOCKED)`,
          beforeMs,
          beforeMs,
          limit,
        ),
      ),
    // Replicas share the database: a running job whose lease is still held belongs to a live
    // replica (it renews the lease while it runs), so only expired leases are taken back.
    requeueRunning: async (nowMs) =>
      db.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE state = 'running' AND lease_until < ?`,
        nowMs,
        nowMs,
        nowMs,
      ),
    // Two replicas sweeping at start-up could both find no live job; the subject's row lock is not
    // at hand here (the subject may be an order or a challenge), so a transaction-scoped advisory
    // lock on (kind, subject) makes the check and the insert one step.
    ensure: async (kind, subjectId, job, nowMs) =>
      db.tx(async (q) => {
        await q.one('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', `${LOCK_PREFIX}job:${kind}:${subjectId}`);
        const live = await q.one("SELECT 1 FROM jobs WHERE kind = ? AND subject_id = ? AND state IN ('queued', 'running')", kind, subjectId);
        if (live) return false;
        await insertJob(q, kind, subjectId, job, nowMs);
        return true;
      }),
  };
}
