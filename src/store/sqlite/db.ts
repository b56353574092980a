import Database from 'better-sqlite3';
import type { Transition } from '../../acme/status.js';
import type { Row } from '../rows.js';
import { ensurePrivateFile, restrictIfPresent } from '../../platform/private-file.js';
import { migrate } from './migrate.js';
import { WalCheckpointer, type CheckpointerEvents } from './checkpointer.js';

// Opening the SQLite database, the prepared-statement cache and transactions, shared by every
// aggregate module of the SQLite Store. better-sqlite3 is synchronous, so each intent runs as one
// transaction that finishes before the returned promise settles: no transaction ever spans an await.


export interface SqliteStoreOptions {
  /** File path, or ':memory:' for throwaway tests. */
  path: string;
  migrationsDir?: string;
  /** Told the SQL of every statement the store prepares, once each (tests: the query-plan check). */
  onStatement?: (sql: string) => void;
  /**
   * Checkpoint the WAL on a thread of its own every this many ms instead of in the commits of this
   * connection (checkpointer.ts): the gateway's `serve` sets it; the short-lived commands do not.
   */
  checkpointThreadMs?: number;
  /** What the checkpoint thread reports (a failed checkpoint; the thread ended). */
  checkpointEvents?: CheckpointerEvents;
}

/** SQLite's default: a commit past this many WAL pages checkpoints. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/** With the checkpoint thread, the writer's own checkpoint only if the thread falls this far behind (~40 MB of log). */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 10_000;

/** One open database: the statement cache, and the few ways the aggregate modules talk to it. */
export class Db {
  /** Prepared statements by SQL text: the set of statements is fixed, and preparing is not free. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;

  constructor(
    private readonly conn: Database.Database,
    private readonly onStatement?: (sql: string) => void,
    private readonly checkpointer?: WalCheckpointer,
  ) {
    this.begin = conn.prepare('BEGIN IMMEDIATE');
    this.commit = conn.prepare('COMMIT');
    this.rollback = conn.prepare('ROLLBACK');
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.conn.prepare(sql);
      this.statements.set(sql, s);
      this.onStatement?.(sql);
    }
    return s;
  }

  one(sql: string, ...params: unknown[]): Row | undefined {
    return this.stmt(sql).get(...params) as Row | undefined;
  }

  all(sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...params) as Row[];
  }

  /** Runs a write; returns the number of rows it changed (0 when a conditional write found nothing). */
  run(sql: string, ...params: unknown[]): number {
    return this.stmt(sql).run(...params).changes;
  }

  /**
   * Runs fn in one IMMEDIATE transaction (the write lock taken up front, so reads inside it are
   * current). Three prepared statements rather than better-sqlite3's transaction(), which builds a
   * new wrapper (four functions) on every call; a nested call still gets its savepoint from it.
   */
  tx<T>(fn: () => T): T {
    if (this.conn.inTransaction) return this.conn.transaction(fn)();
    this.begin.run();
    try {
      const result = fn();
      if (typeof (result as { then?: unknown } | null)?.then === 'function') throw new TypeError('a transaction function must not return a promise');
      this.commit.run();
      return result;
    } catch (err) {
      if (this.conn.inTransaction) this.rollback.run();
      throw err;
    }
  }

  /** Stops the checkpoint thread, then closes: the last connection to close checkpoints the rest. */
  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.conn.open) this.conn.close();
  }
}

export function openDb(options: SqliteStoreOptions): Db {
  if (options.path !== ':memory:') {
    // 0600 before SQLite opens it: SQLite creates -wal and -shm with the database file's own mode.
    ensurePrivateFile(options.path);
    restrictIfPresent(`${options.path}-wal`, `${options.path}-shm`, `${options.path}-journal`);
  }
  const conn = new Database(options.path);
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = NORMAL'); // with WAL: durable across process crashes, fsync at checkpoints
  conn.pragma('foreign_keys = ON');
  conn.pragma('busy_timeout = 5000');
  migrate(conn, options.migrationsDir);
  if (options.path === ':memory:' || !options.checkpointThreadMs) return new Db(conn, options.onStatement);
  conn.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
  const checkpointer = WalCheckpointer.start(options.path, options.checkpointThreadMs, {
    ...options.checkpointEvents,
    onEnded: (reason) => {
      // Without the thread the writer checkpoints as SQLite does by default.
      if (conn.open) conn.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
      options.checkpointEvents?.onEnded?.(reason);
    },
  });
  return new Db(conn, options.onStatement, checkpointer);
}

// Statuses and limits are written so that SQLite plans a statement once. A bound parameter that the
// planner reads is marked, and the statement is prepared again on every new binding (vdbeUnbind
// expires it): `LIMIT ?` (SQLite 3.51 reads it for its LIMIT optimisation), and `status = ?` where a
// partial index's WHERE is `status = '…'` (the planner checks whether the index applies). That
// costs 5–25 µs per call instead of 1–2; test/unit/query-plans.test.ts keeps every statement clear.

/** A status word as an SQL literal. Statuses are the domain's fixed words (acme/status.ts), never input. */
export function statusLiteral(status: string): string {
  if (!/^[a-z]+$/.test(status)) throw new TypeError(`not a status word: ${JSON.stringify(status)}`);
  return `'${status}'`;
}

/**
 * `status IN ('pending', …)` for the `from` statuses of a domain transition (acme/status.ts): the
 * SQL applies the rule, it does not restate it. Literals, not parameters (see above).
 */
export const statusIn = (t: { from: readonly string[] }, column = 'status'): string => `${column} IN (${t.from.map(statusLiteral).join(', ')})`;

/** `LIMIT n` with n bound: CAST keeps SQLite from reading the value while it plans (see above). */
export const BOUND_LIMIT = 'LIMIT CAST(? AS INTEGER)';

/** Applies a domain transition to one row whose only change is its status: true when the row moved. */
export function moveStatus(db: Db, table: 'accounts' | 'authorizations', t: Transition<string>, id: string, nowMs: number): boolean {
  return db.run(`UPDATE ${table} SET status = ?, updated_at = ? WHERE id = ? AND ${statusIn(t)}`, t.to, nowMs, id) === 1;
}
