import pg from 'pg';
import type { Transition } from '../../acme/status.js';
import type { Logger } from '../../platform/logger.js';
import type { Row } from '../rows.js';

// The connection pool, prepared statements and transactions shared by every aggregate module of the
// PostgreSQL Store. The SQL in this folder is written with `?` placeholders like the SQLite store's
// (so helpers such as statusIn are the same); each text is numbered ($1, $2, …) once and runs as a
// named prepared statement, parsed and planned once per connection.
//
// Transactions run under READ COMMITTED: each statement sees what was committed before it began and
// a conditional UPDATE re-checks its WHERE on the newest row version, so "UPDATE … WHERE status = ?"
// moves a row once however many replicas try. Where an intent reads and then decides (the order
// cascade), it locks the rows it decides on first (SELECT … FOR UPDATE). A transaction holds its
// connection only for its own queries: the callback gets the queries and nothing else to await.

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database (the password in it, or in `password`). */
  url: string;
  password?: string;
  /** Most connections the pool opens (storage.poolSize). */
  poolSize?: number;
  /** Server-side limit for one statement (storage.statementTimeoutMs). */
  statementTimeoutMs?: number;
  /** How long to wait for a connection, new or from the pool (storage.connectTimeoutMs). */
  connectTimeoutMs?: number;
  /** How long ping() waits before it reports the database as unreachable. */
  pingTimeoutMs?: number;
  migrationsDir?: string;
  logger?: Logger;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_PING_TIMEOUT_MS = 2_000;
/** SQLSTATEs after which the whole transaction may simply run again. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_TX_ATTEMPTS = 3;

/**
 * A prepared statement whose result columns changed under it (another replica, one version newer,
 * migrated the schema while this one runs: a rolling upgrade): PostgreSQL refuses to run it again.
 * The statements are then prepared anew under new names, and the query (or transaction) re-run.
 */
const isStalePlan = (err: unknown): boolean =>
  (err as { code?: string }).code === '0A000' && /cached plan must not change result type/.test((err as Error).message);
/** A lock key from a name: PostgreSQL's own 64-bit text hash, so every replica derives the same key. */
export const LOCK_KEY_SQL = 'hashtextextended($1, 0)';
/** Advisory locks of the gateway are named; the prefix keeps them apart from other applications'. */
export const LOCK_PREFIX = 'acme-pca-gateway:';

/** What a module can ask of the database, inside a transaction or outside one. */
export interface Queries {
  one(sql: string, ...params: unknown[]): Promise<Row | undefined>;
  all(sql: string, ...params: unknown[]): Promise<Row[]>;
  /** Runs a write; the number of rows it changed (0 when a conditional write found nothing). */
  run(sql: string, ...params: unknown[]): Promise<number>;
}

interface Prepared {
  name: string;
  text: string;
}

/**
 * Epoch-ms times are BIGINT; node-postgres hands int8 back as a string because it may exceed 2^53.
 * Ours never do (2^53 ms is 285,000 years), so they are parsed as numbers, for this pool only.
 */
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** One pool on one database. */
export class PgDb implements Queries {
  readonly pool: pg.Pool;
  private readonly statements = new Map<string, Prepared>();
  /** Bumped when prepared statements went stale: names of a new generation are prepared afresh. */
  private generation = 0;
  private readonly pingTimeoutMs: number;

  constructor(readonly options: PostgresStoreOptions) {
    const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    this.pingTimeoutMs = options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    this.pool = new pg.Pool({
      ...connectionConfig(options),
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      statement_timeout: statementTimeoutMs,
      // A client-side backstop for a server that stopped answering without closing the connection
      // (a dead host, a partition), where the server's own statement timeout never comes back.
      query_timeout: statementTimeoutMs + 2_000,
      // An intent's transaction only waits for its own queries; one idle this long is a bug or a
      // stalled process, and the server ends it rather than keep its row locks.
      idle_in_transaction_session_timeout: Math.max(10_000, 2 * statementTimeoutMs),
      keepAlive: true,
      types: typeParsers,
    });
    // An idle connection the server closed (restart, failover) is reported here; the pool drops it
    // and opens a new one on demand. Without a listener the 'error' event would end the process.
    this.pool.on('error', (err) => options.logger?.warn({ err: err.message }, 'PostgreSQL: an idle connection failed; the pool replaces it'));
  }

  private prepared(sql: string): Prepared {
    let p = this.statements.get(sql);
    if (!p) {
      p = { name: `acme_${this.generation}_${this.statements.size + 1}`, text: numberPlaceholders(sql) };
      this.statements.set(sql, p);
    }
    return p;
  }

  private async exec(on: pg.Pool | pg.PoolClient, sql: string, params: unknown[]): Promise<pg.QueryResult> {
    const p = this.prepared(sql);
    try {
      return await on.query({ name: p.name, text: p.text, values: params });
    } catch (err) {
      // Outside a transaction the statement can simply run again; inside one, tx() re-runs it all.
      if (!isStalePlan(err) || on !== this.pool) throw err;
      this.renewStatements();
      const fresh = this.prepared(sql);
      return on.query({ name: fresh.name, text: fresh.text, values: params });
    }
  }

  private renewStatements(): void {
    this.generation++;
    this.statements.clear();
  }

  private queries(on: pg.Pool | pg.PoolClient): Queries {
    return {
      one: async (sql, ...params) => (await this.exec(on, sql, params)).rows[0] as Row | undefined,
      all: async (sql, ...params) => (await this.exec(on, sql, params)).rows as Row[],
      run: async (sql, ...params) => (await this.exec(on, sql, params)).rowCount ?? 0,
    };
  }

  one(sql: string, ...params: unknown[]): Promise<Row | undefined> {
    return this.queries(this.pool).one(sql, ...params);
  }

  all(sql: string, ...params: unknown[]): Promise<Row[]> {
    return this.queries(this.pool).all(sql, ...params);
  }

  run(sql: string, ...params: unknown[]): Promise<number> {
    return this.queries(this.pool).run(sql, ...params);
  }

  /**
   * Runs fn in one transaction on one connection, committed when fn resolves and rolled back when it
   * throws. A deadlock or serialization failure runs it again from the start (nothing of the failed
   * attempt was committed), so fn must only query: no other I/O, nothing to undo.
   */
  async tx<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(this.queries(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => {
          broken = rollbackErr; // the connection is unusable: the pool must not hand it out again
        });
        if (isStalePlan(err)) this.renewStatements();
        if (attempt < MAX_TX_ATTEMPTS && (isStalePlan(err) || RETRYABLE.has((err as { code?: string }).code ?? ''))) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Runs fn while holding the session advisory lock `key` (pg_try_advisory_lock: never waits), on a
   * pooled connection kept for as long as fn runs. No transaction is open meanwhile — fn's own
   * queries use other connections, so the pool needs at least two — and should this process die,
   * PostgreSQL ends the session and the lock with it. null when another session holds the lock.
   */
  async withAdvisoryLock<T>(key: string, fn: () => Promise<T>): Promise<{ value: T } | null> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const got = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY_SQL}) AS ok`, [key]);
      if (!got.rows[0]?.ok) return null;
      try {
        return { value: await fn() };
      } finally {
        // A connection that cannot unlock is closed instead of returned, which ends the lock too.
        await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY_SQL})`, [key]).catch((err: Error) => {
          broken = err;
        });
      }
    } catch (err) {
      if (!(err instanceof pg.DatabaseError)) broken ??= err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** SELECT 1 within the ping timeout, so a lost database answers "not ready" instead of hanging. */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${this.pingTimeoutMs} ms`)), this.pingTimeoutMs);
    });
    try {
      await Promise.race([this.pool.query('SELECT 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/**
 * The connection settings: the URL, with the password given apart from it (storage.postgresPassword,
 * its file or PGPASSWORD, resolved by the configuration) added when the URL has none. It travels as
 * the URL's `password` parameter because node-postgres lets what it parses from the URL override a
 * separate `password` option, even an empty one.
 */
export function connectionConfig(options: Pick<PostgresStoreOptions, 'url' | 'password'>): pg.ClientConfig {
  const url = new URL(options.url);
  if (options.password !== undefined && !url.password && !url.searchParams.has('password')) url.searchParams.set('password', options.password);
  return { connectionString: url.toString(), application_name: 'acme-pca-gateway' };
}

/** `?` → `$1`, `$2`, … (our SQL has no `?` inside literals or operators). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** `status IN (?, …)` for the `from` statuses of a domain transition, as in the SQLite store. */
export const statusIn = (t: { from: readonly string[] }, column = 'status'): string => `${column} IN (${t.from.map(() => '?').join(', ')})`;

/** Applies a domain transition to one row whose only change is its status: true when the row moved. */
export async function moveStatus(q: Queries, table: 'accounts' | 'authorizations', t: Transition<string>, id: string, nowMs: number): Promise<boolean> {
  return (await q.run(`UPDATE ${table} SET status = ?, updated_at = ? WHERE id = ? AND ${statusIn(t)}`, t.to, nowMs, id, ...t.from)) === 1;
}
