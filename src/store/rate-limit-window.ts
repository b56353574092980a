// The SQL of a rate limit's sliding window (RFC 8555 §6.6, migration 016), written once for both
// stores: the same table and columns, `?` placeholders in both. Each subject's events carry a
// sequence number and a time that never goes back, so a window is counted with two index lookups
// (store/sqlite/rate-limits.ts says why and when the count errs); each store runs these its own way
// (better-sqlite3 synchronously inside its IMMEDIATE transaction, PostgreSQL under the subject's
// advisory lock).

/** The subject's newest event, `at` and `seq`; params: name, subject. */
export const NEWEST_EVENT = 'SELECT at, seq FROM rate_limit_events WHERE name = ? AND subject = ? ORDER BY at DESC, seq DESC LIMIT 1';

/** `n`, the events of the subject younger than `since`, as one statement; params: countInWindowParams. */
export const COUNT_IN_WINDOW = `SELECT (SELECT seq FROM rate_limit_events WHERE name = ? AND subject = ? ORDER BY at DESC, seq DESC LIMIT 1)
          - (SELECT seq FROM rate_limit_events WHERE name = ? AND subject = ? AND at > ? ORDER BY at, seq LIMIT 1) + 1 AS n`;

export const countInWindowParams = (name: string, subject: string, since: number): unknown[] => [name, subject, name, subject, since];

/** `at` of the (offset + 1)-th oldest event inside the window; params: name, subject, since, offset. */
export const NTH_IN_WINDOW = 'SELECT at FROM rate_limit_events WHERE name = ? AND subject = ? AND at > ? ORDER BY at, seq LIMIT 1 OFFSET ?';
