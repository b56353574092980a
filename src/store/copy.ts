import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { connectionConfig, type PostgresStoreOptions } from './postgres/db.js';
import { migratePostgres } from './postgres/migrate.js';
import { openSqliteStore } from './sqlite/index.js';

// `db copy`: moves a deployment from its SQLite file to a PostgreSQL database, every table and every
// row, in one transaction on the target, so that a copy either lands whole or not at all. The two
// schemas have the same tables and columns (store/postgres/ mirrors store/sqlite/); values are
// converted where the types differ (0/1 → BOOLEAN). Stop the gateway first: what it writes to the
// SQLite file after the copy's snapshot is not copied.

/** Every table of the gateway, parents before children (foreign keys). schema_migrations is each side's own. */
export const COPIED_TABLES = [
  'settings',
  'accounts',
  'eab_keys',
  'orders',
  'authorizations',
  'order_authorizations',
  'challenges',
  'certificates',
  'issuance_attempts',
  'jobs',
  'used_nonces',
  'audit_events',
  'rate_limit_events',
  'preauthorization_uses',
] as const;

export interface CopyReport {
  table: string;
  rows: number;
}

export class CopyRefused extends Error {}

/** Rows per INSERT: PostgreSQL takes at most 65,535 parameters in one statement. */
const MAX_PARAMETERS = 30_000;

interface TargetColumn {
  name: string;
  type: string;
  generated: boolean;
}

export async function copySqliteToPostgres(from: { path: string }, to: PostgresStoreOptions, opts: { force: boolean }): Promise<CopyReport[]> {
  if (!existsSync(from.path)) throw new CopyRefused(`no SQLite database at ${from.path}`);
  // Both sides at this version's schema first: the source as the gateway's own start would leave it.
  await openSqliteStore({ path: from.path }).close();
  await migratePostgres(to);

  const source = new Database(from.path, { readonly: true, fileMustExist: true });
  const target = new pg.Client({ ...connectionConfig(to), connectionTimeoutMillis: to.connectTimeoutMs ?? 5_000 });
  target.on('error', () => undefined); // reported by the query that fails
  await target.connect();
  try {
    const tables = (source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[])
      .map((t) => t.name)
      .filter((t) => t !== 'schema_migrations');
    const unknown = tables.filter((t) => !(COPIED_TABLES as readonly string[]).includes(t));
    if (unknown.length) throw new CopyRefused(`db copy does not know the table(s) ${unknown.join(', ')}: nothing copied`);

    // One read transaction on the source: a consistent snapshot even if something still writes.
    source.exec('BEGIN');
    // A copy may take longer than any ordinary statement, so no statement timeout for it.
    await target.query('SET statement_timeout = 0');
    await target.query('BEGIN');
    try {
      // No replica writes while the copy runs: it waits until the copy is committed or rolled back.
      await target.query(`LOCK TABLE ${COPIED_TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`);
      const filled: string[] = [];
      for (const table of COPIED_TABLES) {
        if ((await target.query(`SELECT EXISTS (SELECT 1 FROM ${table}) AS filled`)).rows[0].filled) filled.push(table);
      }
      if (filled.length && !opts.force) {
        throw new CopyRefused(`the target database is not empty (${filled.join(', ')} have rows): nothing copied; --force replaces its contents`);
      }
      if (filled.length) await target.query(`TRUNCATE ${COPIED_TABLES.join(', ')} RESTART IDENTITY`);

      const report: CopyReport[] = [];
      for (const table of COPIED_TABLES) {
        const rows = await copyTable(source, target, table);
        const copied = Number((await target.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n);
        if (copied !== rows) throw new Error(`${table}: read ${rows} rows, the target holds ${copied}: nothing copied`);
        report.push({ table, rows });
      }
      // orders.seq was copied as it was; new orders must be numbered after the copied ones.
      await target.query("SELECT setval(pg_get_serial_sequence('orders', 'seq'), COALESCE(MAX(seq), 0) + 1, false) FROM orders");
      await target.query('COMMIT');
      return report;
    } catch (err) {
      await target.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      source.exec('COMMIT');
    }
  } finally {
    source.close();
    await target.end().catch(() => undefined);
  }
}

async function targetColumns(target: pg.Client, table: string): Promise<TargetColumn[]> {
  const { rows } = await target.query<{ name: string; type: string; identity: string; dflt: string | null }>(
    `SELECT column_name AS name, data_type AS type, is_identity AS identity, column_default AS dflt
     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  );
  return rows.map((r) => ({ name: r.name, type: r.type, generated: r.identity === 'YES' || r.dflt !== null }));
}

/** Copies one table in insertion order (rowid), so sequences the target assigns follow creation. */
async function copyTable(source: Database.Database, target: pg.Client, table: string): Promise<number> {
  const sourceColumns = (source.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  const columns = await targetColumns(target, table);
  const byName = new Map(columns.map((c) => [c.name, c]));
  const missing = sourceColumns.filter((c) => !byName.has(c));
  if (missing.length) throw new Error(`${table}: the target has no column ${missing.join(', ')}: nothing copied`);
  const unfilled = columns.filter((c) => !sourceColumns.includes(c.name) && !c.generated);
  if (unfilled.length) throw new Error(`${table}: nothing in the source fills ${unfilled.map((c) => c.name).join(', ')}: nothing copied`);

  const convert = sourceColumns.map((name) => converter(byName.get(name)!.type));
  const perInsert = Math.max(1, Math.floor(MAX_PARAMETERS / sourceColumns.length));
  let batch: unknown[][] = [];
  let count = 0;
  const flush = async () => {
    if (!batch.length) return;
    const values = batch.map((_, r) => `(${sourceColumns.map((__, c) => `$${r * sourceColumns.length + c + 1}`).join(', ')})`).join(', ');
    await target.query(`INSERT INTO ${table} (${sourceColumns.join(', ')}) VALUES ${values}`, batch.flat());
    batch = [];
  };
  for (const row of source.prepare(`SELECT ${sourceColumns.join(', ')} FROM ${table} ORDER BY rowid`).raw().iterate() as Iterable<unknown[]>) {
    batch.push(row.map((v, i) => convert[i]!(v)));
    count++;
    if (batch.length >= perInsert) await flush();
  }
  await flush();
  return count;
}

/** SQLite value → the target column's type (SQLite keeps flags as 0/1). */
function converter(pgType: string): (v: unknown) => unknown {
  if (pgType === 'boolean') return (v) => (v === null ? null : v !== 0);
  return (v) => v;
}
