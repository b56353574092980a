import { RateLimitExceeded, type ConcurrentLimit, type CountedLimit, type Store } from '../types.js';
import { deleteInBatches } from '../batches.js';
import { COUNT_IN_WINDOW, countInWindowParams, NEWEST_EVENT, NTH_IN_WINDOW } from '../rate-limit-window.js';
import { LOCK_PREFIX, type PgDb, type Queries } from './db.js';

// Rate limits (RFC 8555 §6.6) as sliding windows of counted events (migration 008), as in the
// SQLite store. Under READ COMMITTED two replicas counting the same window at once would both see
// the last free slot, so each check first takes a transaction-scoped advisory lock named after
// what it counts (pg_advisory_xact_lock, released at COMMIT or ROLLBACK): the second waits, and its
// count — a new statement, so a new snapshot — sees the first one's event or order or challenge.
// The helpers run inside the caller's transaction: the intent that creates what is counted.

/** Serializes, until the end of the transaction, every check of this limit for this subject. */
async function lock(q: Queries, what: string): Promise<void> {
  await q.one('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', `${LOCK_PREFIX}rate:${what}`);
}

/**
 * The events of the subject younger than `since`, in O(log n) (see the SQLite store: a sequence
 * number per subject, times that never go back), as one statement: one snapshot under READ COMMITTED.
 */
async function countInWindow(q: Queries, name: string, subject: string, since: number): Promise<number> {
  const r = await q.one(COUNT_IN_WINDOW, ...countInWindowParams(name, subject, since));
  return r?.n == null ? 0 : Number(r.n);
}

/** When the limit frees one slot (the (n − max + 1)-th oldest event leaving the window); null when there is room. */
async function fullUntil(q: Queries, limit: CountedLimit, nowMs: number): Promise<number | null> {
  const since = nowMs - limit.windowMs;
  const n = await countInWindow(q, limit.name, limit.subject, since);
  if (n < limit.max) return null;
  const r =
    (await q.one(NTH_IN_WINDOW, limit.name, limit.subject, since, n - limit.max)) ??
    // Counted with deleted events inside the window (see the SQLite store): free once the newest has left it.
    (await q.one(NEWEST_EVENT, limit.name, limit.subject));
  return Number(r!.at) + limit.windowMs;
}

/**
 * Counts one event (inside the caller's transaction), kept until it has left its window. The
 * database gives it its number and keeps its time monotonic (the trigger of migration 016, so that
 * a replica of the previous version, mid rolling upgrade, is numbered too); under the subject's
 * lock — taken again when reserveSlot holds it already, the lock is re-entrant within a
 * transaction — so that two replicas never give one subject's events the same number.
 */
export async function countEvent(q: Queries, name: string, subject: string, nowMs: number, windowMs: number): Promise<void> {
  await lock(q, `${name}:${subject}`);
  await q.run('INSERT INTO rate_limit_events (name, subject, at, expires_at) VALUES (?, ?, ?, ?)', name, subject, nowMs, nowMs + windowMs);
}

/**
 * Inside the caller's transaction: locks the window and throws RateLimitExceeded when it is full.
 * Returns a function that counts the event, for the caller to call once what it counts is written.
 */
export async function reserveSlot(q: Queries, limit: CountedLimit | null | undefined, nowMs: number): Promise<() => Promise<void>> {
  if (!limit || limit.max <= 0) return async () => undefined;
  await lock(q, `${limit.name}:${limit.subject}`);
  const until = await fullUntil(q, limit, nowMs);
  if (until !== null) throw new RateLimitExceeded(limit.name, until);
  return () => countEvent(q, limit.name, limit.subject, nowMs, limit.windowMs);
}

/** pendingOrdersPerAccount (see the SQLite store), under the account's pending-orders lock. */
export async function checkPendingOrders(q: Queries, accountId: string, limit: ConcurrentLimit | null | undefined, nowMs: number): Promise<void> {
  if (!limit || limit.max <= 0) return;
  await lock(q, `${limit.name}:${accountId}`);
  const n = Number((await q.one("SELECT COUNT(*) AS n FROM orders WHERE account_id = ? AND status = 'pending' AND expires_at > ?", accountId, nowMs))!.n);
  if (n < limit.max) return;
  const r = await q.one("SELECT expires_at FROM orders WHERE account_id = ? AND status = 'pending' AND expires_at > ? ORDER BY expires_at LIMIT 1 OFFSET ?", accountId, nowMs, n - limit.max);
  throw new RateLimitExceeded(limit.name, (r?.expires_at as number | undefined) ?? null);
}

/**
 * concurrentValidationsPerAccount (see the SQLite store), under the account's validations lock,
 * taken before the authorization's row lock of challenges.start (one order of locks, no deadlock).
 */
export async function checkRunningValidations(q: Queries, challengeId: string, limit: ConcurrentLimit | null | undefined): Promise<void> {
  if (!limit || limit.max <= 0) return;
  const owner = await q.one('SELECT a.account_id FROM challenges c JOIN authorizations a ON a.id = c.authz_id WHERE c.id = ?', challengeId);
  if (!owner) return;
  await lock(q, `${limit.name}:${owner.account_id as string}`);
  const running = `FROM challenges c JOIN authorizations a ON a.id = c.authz_id WHERE c.status = 'processing' AND a.account_id = ?`;
  const n = Number((await q.one(`SELECT COUNT(*) AS n ${running}`, owner.account_id))!.n);
  if (n < limit.max) return;
  const r = await q.one(
    `SELECT MIN(j.deadline_at) AS at FROM jobs j WHERE j.kind = 'validate' AND j.state IN ('queued', 'running') AND j.subject_id IN (SELECT c.id ${running})`,
    owner.account_id,
  );
  throw new RateLimitExceeded(limit.name, (r?.at as number | null | undefined) ?? null);
}

export function postgresRateLimits(db: PgDb): Store['rateLimits'] {
  return {
    check: async (limit, now) => (limit.max > 0 ? fullUntil(db, limit, now.getTime()) : null),
    // The table has no key: a batch is chosen by ctid, skipping rows another replica's prune holds.
    prune: (nowMs) =>
      deleteInBatches((limit) =>
        db.run('DELETE FROM rate_limit_events WHERE ctid IN (SELECT ctid FROM rate_limit_events WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)', nowMs, limit),
      ),
  };
}
