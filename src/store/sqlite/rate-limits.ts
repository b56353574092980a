import { RateLimitExceeded, type ConcurrentLimit, type CountedLimit, type Store } from '../types.js';
import { deleteInBatches } from '../batches.js';
import { COUNT_IN_WINDOW, countInWindowParams, NEWEST_EVENT, NTH_IN_WINDOW } from '../rate-limit-window.js';
import { BOUND_LIMIT, type Db } from './db.js';

// Rate limits (RFC 8555 §6.6) as sliding windows of counted events (migration 008). The check and
// the count run inside the caller's IMMEDIATE transaction, which holds SQLite's one write lock, so
// two requests cannot both see the last free slot. The helpers here are called by the intents that
// create what is counted (accounts, orders, challenges), inside their own transactions.
//
// A window is counted in O(log n), not by COUNT(*) over it (which cost 1.5 ms at 50,000 events:
// bench/RESULTS.md, fifth pass). Each subject's events carry a sequence number (migration 016) and
// a time that never goes back (a clock stepped back records at the subject's last time, so the
// event stays in its window a little longer, never shorter); time order is then sequence order,
// and the events in the window are last.seq − first-in-window.seq + 1. Housekeeping deletes
// events whose window has passed, which is a prefix of a subject's sequence while its window stays
// put (see countInWindow for a window changed twice within one window's time).

/**
 * The events of the subject younger than `since`, as one statement. Exact while no event inside
 * the window has been deleted before the ones around it, which takes the window shortened and then
 * lengthened again within one window's time; then it counts the deleted ones too, erring towards
 * refusing until they have left the window.
 */
function countInWindow(db: Db, name: string, subject: string, since: number): number {
  const r = db.one(COUNT_IN_WINDOW, ...countInWindowParams(name, subject, since));
  return (r?.n as number | null | undefined) ?? 0;
}

/**
 * When the limit frees one slot: with n events in the window and n ≥ max, the (n − max + 1)-th
 * oldest must leave it, at its time + window. null when there is room.
 */
function fullUntil(db: Db, limit: CountedLimit, nowMs: number): number | null {
  const since = nowMs - limit.windowMs;
  const n = countInWindow(db, limit.name, limit.subject, since);
  if (n < limit.max) return null;
  // n − max is 0 unless the limit was lowered: the OFFSET walks only that far.
  const r =
    db.one(NTH_IN_WINDOW, limit.name, limit.subject, since, n - limit.max) ??
    // Counted with deleted events inside the window (countInWindow): free once the newest has left it.
    db.one(NEWEST_EVENT, limit.name, limit.subject);
  return (r!.at as number) + limit.windowMs;
}

/** Counts one event (inside the caller's transaction), kept until it has left its window. */
export function countEvent(db: Db, name: string, subject: string, nowMs: number, windowMs: number): void {
  const newest = db.one(NEWEST_EVENT, name, subject);
  const at = newest ? Math.max(nowMs, newest.at as number) : nowMs;
  const seq = newest ? (newest.seq as number) + 1 : 1;
  db.run('INSERT INTO rate_limit_events (name, subject, at, expires_at, seq) VALUES (?, ?, ?, ?, ?)', name, subject, at, at + windowMs, seq);
}

/** Inside the caller's transaction: throws RateLimitExceeded when the window is full, else counts one event. */
export function takeSlot(db: Db, limit: CountedLimit | null | undefined, nowMs: number): void {
  if (!limit || limit.max <= 0) return;
  const until = fullUntil(db, limit, nowMs);
  if (until !== null) throw new RateLimitExceeded(limit.name, until);
  countEvent(db, limit.name, limit.subject, nowMs, limit.windowMs);
}

/**
 * pendingOrdersPerAccount, inside the caller's transaction: the account's pending, unexpired orders
 * against the limit; when full, one frees up at the latest when the (n − max + 1)-th to expire does.
 */
export function checkPendingOrders(db: Db, accountId: string, limit: ConcurrentLimit | null | undefined, nowMs: number): void {
  if (!limit || limit.max <= 0) return;
  const n = db.one("SELECT COUNT(*) AS n FROM orders WHERE account_id = ? AND status = 'pending' AND expires_at > ?", accountId, nowMs)!.n as number;
  if (n < limit.max) return;
  const r = db.one("SELECT expires_at FROM orders WHERE account_id = ? AND status = 'pending' AND expires_at > ? ORDER BY expires_at LIMIT 1 OFFSET ?", accountId, nowMs, n - limit.max);
  throw new RateLimitExceeded(limit.name, (r?.expires_at as number | undefined) ?? null);
}

/**
 * concurrentValidationsPerAccount, inside the caller's transaction: the account's challenges being
 * validated against the limit; when full, one frees up at the latest at the earliest deadline of
 * their validation jobs (a job always ends by its deadline: jobs/queue.ts).
 */
export function checkRunningValidations(db: Db, challengeId: string, limit: ConcurrentLimit | null | undefined): void {
  if (!limit || limit.max <= 0) return;
  const owner = db.one('SELECT a.account_id FROM challenges c JOIN authorizations a ON a.id = c.authz_id WHERE c.id = ?', challengeId);
  if (!owner) return; // unknown challenge: the start itself changes nothing
  const running = `FROM challenges c JOIN authorizations a ON a.id = c.authz_id WHERE c.status = 'processing' AND a.account_id = ?`;
  const n = db.one(`SELECT COUNT(*) AS n ${running}`, owner.account_id)!.n as number;
  if (n < limit.max) return;
  const r = db.one(
    `SELECT MIN(j.deadline_at) AS at FROM jobs j WHERE j.kind = 'validate' AND j.state IN ('queued', 'running') AND j.subject_id IN (SELECT c.id ${running})`,
    owner.account_id,
  );
  throw new RateLimitExceeded(limit.name, (r?.at as number | null | undefined) ?? null);
}

export function sqliteRateLimits(db: Db): Store['rateLimits'] {
  return {
    check: async (limit, now) => (limit.max > 0 ? fullUntil(db, limit, now.getTime()) : null),
    prune: (nowMs) => deleteInBatches((limit) => db.run(`DELETE FROM rate_limit_events WHERE rowid IN (SELECT rowid FROM rate_limit_events WHERE expires_at <= ? ${BOUND_LIMIT})`, nowMs, limit)),
  };
}
