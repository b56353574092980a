import { join } from 'node:path';
import pg from 'pg';
import { findMigrationsDir, readMigrations } from '../migrations.js';
import { connectionConfig, LOCK_KEY_SQL, LOCK_PREFIX, type PostgresStoreOptions } from './db.js';

// Applies migrations/postgres/NNN_name.sql in order, each in its own transaction, recording them in
// schema_migrations as the SQLite migrator does. Several replicas start together, so the whole run
// holds a session advisory lock: the first migrates, the others wait for it and then find nothing
// left to do (even CREATE TABLE IF NOT EXISTS races when two sessions run it at once).

export async function migratePostgres(options: PostgresStoreOptions): Promise<string[]> {
  const dir = options.migrationsDir ?? join(findMigrationsDir(), 'postgres');
  const migrations = readMigrations(dir);
  // Its own connection, not one of the pool: the lock belongs to this session, and a migration may
  // legitimately take longer than the statement timeout of ordinary queries (so none here).
  const client = new pg.Client({ ...connectionConfig(options), connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000 });
  client.on('error', () => undefined); // reported by the query that fails
  await client.connect().catch((err: Error) => {
    // node-postgres words a missing password in SCRAM's terms; say where one can come from.
    if (/client password must be a string/.test(err.message)) {
      throw new Error('PostgreSQL asks for a password and none was given (in the URL, storage.postgresPassword or its file, or PGPASSWORD)', { cause: err });
    }
    throw err;
  });
  const lock = `${LOCK_PREFIX}migrations`;
  try {
    await client.query(`SELECT pg_advisory_lock(${LOCK_KEY_SQL})`, [lock]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const done: string[] = [];
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`PostgreSQL migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        done.push(m.name);
      }
      return done;
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY_SQL})`, [lock]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
