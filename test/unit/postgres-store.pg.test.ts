import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { buildAdmin } from '../../src/deps.js';
import { PgDb } from '../../src/store/postgres/db.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { migratePostgres } from '../../src/store/postgres/migrate.js';
import { findMigrationsDir } from '../../src/store/migrations.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { TEST_PG_PASSWORD } from '../support/postgres-cluster.js';
import { EVENTS_BEFORE_016, migrationsBelow, NUMBERED_BY_016 } from '../support/rate-limit-migration.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-db.js';

// What the Store contract cannot see of the PostgreSQL store: its migrations (race-free, recorded,
// the same schema as SQLite's), how it is configured and connected, and its timeouts.

let dir: string;
const databases: TestDatabase[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pg-store-'));
});
afterAll(async () => {
  for (const d of databases) await d.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function database(): Promise<TestDatabase> {
  const d = await createTestDatabase(undefined, 'pgstore');
  databases.push(d);
  return d;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Without its password: the configuration has to supply it. */
const withoutPassword = (url: string) => {
  const u = new URL(url);
  u.password = '';
  return u.toString();
};

describe('PostgreSQL migrations', () => {
  it('replicas starting together on an empty database: every one opens, each migration applied once', async () => {
    const d = await database();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore({ url: d.url, poolSize: 2 })));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await query<{ version: number; name: string }>(d.url, 'SELECT version, name FROM schema_migrations ORDER BY version');
    const sqlite = new Database(join(dir, 'names.sqlite'));
    try {
      openSqliteStore({ path: join(dir, 'names.sqlite') }).close();
      const sqliteRows = sqlite.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      // The same numbered migrations, by the same file names, on both stores.
      expect(rows).toEqual(sqliteRows);
    } finally {
      sqlite.close();
    }
    // A restart applies nothing new.
    await (await openPostgresStore({ url: d.url })).close();
    expect(await query(d.url, 'SELECT version FROM schema_migrations')).toHaveLength(rows.length);
  });

  it('has the same tables and columns as the SQLite schema (plus the sequence that orders challenges)', async () => {
    const d = await database();
    await (await openPostgresStore({ url: d.url })).close();
    const pgColumns = await query<{ t: string; c: string }>(
      d.url,
      "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name",
    );
    const path = join(dir, 'schema.sqlite');
    await openSqliteStore({ path }).close();
    const db = new Database(path, { readonly: true });
    const sqliteColumns: { t: string; c: string }[] = [];
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
      for (const { name } of tables) {
        for (const col of db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]) sqliteColumns.push({ t: name, c: col.name });
      }
    } finally {
      db.close();
    }
    const key = (x: { t: string; c: string }) => `${x.t}.${x.c}`;
    const expected = [...sqliteColumns.map(key), 'challenges.seq'].sort();
    expect(pgColumns.map(key).sort()).toEqual(expected);
  });
});

describe('PostgreSQL connection settings', () => {
  it('the password may come apart from the URL (postgresPasswordFile, PGPASSWORD), through the configuration', async () => {
    const d = await database();
    const file = join(dir, 'pg-password');
    writeFileSync(file, `${TEST_PG_PASSWORD}\n`);
    const fromFile = await buildAdmin(parseConfig({ storage: { postgres: withoutPassword(d.url), postgresPasswordFile: file }, acme: { eabKekFile: join(dir, 'kek') } }));
    await fromFile.store.settings.set('k', 'file');
    await fromFile.close();
    const fromEnv = await buildAdmin(parseConfig({ storage: { postgres: withoutPassword(d.url) }, acme: { eabKekFile: join(dir, 'kek') } }, { PGPASSWORD: TEST_PG_PASSWORD }));
    expect(await fromEnv.store.settings.get('k')).toBe('file');
    await fromEnv.close();
    await expect(openPostgresStore({ url: withoutPassword(d.url), password: 'wrong' })).rejects.toThrow(/password authentication failed/);
  });

  it('a statement that runs past statementTimeoutMs is ended by the server', async () => {
    const d = await database();
    const db = new PgDb({ url: d.url, statementTimeoutMs: 200 });
    try {
      const started = Date.now();
      await expect(db.one('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' }); // query_canceled
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await db.one('SELECT 1 AS one')).toEqual({ one: 1 });
    } finally {
      await db.close();
    }
  });

  it('the pool opens at most poolSize connections, and a held exclusive section leaves the rest working', async () => {
    const d = await database();
    const store = await openPostgresStore({ url: d.url, poolSize: 2 });
    try {
      const r = await store.tryExclusive('x', async () => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.settings.set(`k${i}`, String(i))));
        return store.settings.get('k19');
      });
      expect(r).toEqual({ ran: true, value: '19' });
      const rows = await query<{ n: number }>(d.url, "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = 'acme-pca-gateway'");
      expect(rows[0]!.n).toBeLessThanOrEqual(2);
    } finally {
      await store.close();
    }
  });

  it('migration 016 numbers the rate-limit events already recorded, in time order within each subject', async () => {
    const d = await database();
    await migratePostgres({ url: d.url, migrationsDir: migrationsBelow(join(findMigrationsDir(), 'postgres'), 16, dir) });
    const values = EVENTS_BEFORE_016.map(([name, subject, at]) => `('${name}', '${subject}', ${at}, ${at + 1000})`).join(', ');
    await query(d.url, `INSERT INTO rate_limit_events (name, subject, at, expires_at) VALUES ${values}`);
    expect(await migratePostgres({ url: d.url })).toContain('016_rate_limit_sequence.sql');
    expect(await query(d.url, 'SELECT name, subject, at::int AS at, seq::int AS seq FROM rate_limit_events ORDER BY name, subject, at')).toEqual(NUMBERED_BY_016);
    // A replica of the previous version, mid rolling upgrade, writes an event without a number (and
    // here with a clock behind): the database numbers it next and moves it to the subject's newest time.
    await query(d.url, "INSERT INTO rate_limit_events (name, subject, at, expires_at) VALUES ('newOrdersPerAccount', 'a', 250, 1250), ('newOrdersPerAccount', 'c', 70, 1070)");
    expect(await query(d.url, "SELECT subject, at::int AS at, expires_at::int AS expires_at, seq::int AS seq FROM rate_limit_events WHERE name = 'newOrdersPerAccount' AND seq IN (1, 4) AND subject IN ('a', 'c') AND at >= 70 ORDER BY subject, seq")).toEqual([
      { subject: 'a', at: 100, expires_at: 1100, seq: 1 },
      { subject: 'a', at: 300, expires_at: 1300, seq: 4 },
      { subject: 'c', at: 70, expires_at: 1070, seq: 1 },
    ]);
  });

  it('keeps working when another replica migrates the schema under it (a rolling upgrade)', async () => {
    const d = await database();
    const store = await openPostgresStore({ url: d.url, poolSize: 2 });
    try {
      const { account } = await store.accounts.createOrGet({
        id: 'a1', directory: 'default', jwk: { kty: 'EC' }, thumbprint: 'tp', contact: [], termsOfServiceAgreed: true, eabKeyId: null, now: new Date(0),
      });
      // Prepared on every pooled connection, in and out of a transaction...
      await Promise.all([store.accounts.get(account.id), store.accounts.get(account.id)]);
      await store.accounts.changeKey(account.id, 'tp', { kty: 'EC' }, 'tp2', new Date(1));
      // ...then a newer version adds a column: `SELECT *` changes shape under the prepared plans.
      await query(d.url, 'ALTER TABLE accounts ADD COLUMN added_by_a_newer_version TEXT');
      const again = await Promise.all([store.accounts.get(account.id), store.accounts.get(account.id)]);
      expect(again.map((a) => a!.thumbprint)).toEqual(['tp2', 'tp2']);
      expect((await store.accounts.changeKey(account.id, 'tp2', { kty: 'EC' }, 'tp3', new Date(2))).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a connection that cannot be made fails within connectTimeoutMs', async () => {
    // A port nothing listens on refuses at once; the timeout bounds the slower failures.
    const started = Date.now();
    await expect(openPostgresStore({ url: 'postgres://acme:x@127.0.0.1:1/none', connectTimeoutMs: 1_000 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
