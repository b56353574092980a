import { parseArgs } from 'node:util';
import { configFromEnvironment } from '../config/load.js';
import { postgresStoreOptions } from '../deps.js';
import { copySqliteToPostgres, CopyRefused } from '../store/copy.js';
import { dbBackupCommand, dbPruneCommand, DB_OPS_USAGE } from './db-ops.js';

const USAGE = `Usage:
  acme-pca-gateway db copy --from sqlite:FILE --to postgres:URL [--force] [--password-file FILE]
      Copies every table of a SQLite database into a PostgreSQL one, in one transaction. Refuses a
      target that has rows unless --force (which replaces them). Stop the gateway first. The target's
      password: in the URL, in --password-file, or in PGPASSWORD.
${DB_OPS_USAGE}`;

/** `--to postgres:postgres://…`, or the URL alone (it starts with "postgres:" already). */
function postgresUrl(value: string): string | null {
  const url = value.replace(/^postgres:(?=postgres(ql)?:\/\/)/, '');
  return /^postgres(ql)?:\/\//.test(url) ? url : null;
}

/** `acme-pca-gateway db …`: moving the gateway's database. */
export async function dbCommand(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'backup') return dbBackupCommand(rest, { out, err });
  if (sub === 'prune') return dbPruneCommand(rest, { out, err });
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      force: { type: 'boolean', default: false },
      'password-file': { type: 'string' },
    },
  });
  if (sub === 'copy') {
    const from = values.from?.startsWith('sqlite:') ? values.from.slice('sqlite:'.length) : null;
    const to = values.to ? postgresUrl(values.to) : null;
    if (!from || !to) {
      err.write(`db copy needs --from sqlite:FILE and --to postgres:URL\n${USAGE}`);
      return 2;
    }
    // Through the configuration, so the password has the same sources (and checks) as for `serve`.
    const target = postgresStoreOptions(
      configFromEnvironment({ storage: { postgres: to, ...(values['password-file'] ? { postgresPasswordFile: values['password-file'] } : {}) } }),
    );
    const started = Date.now();
    try {
      const report = await copySqliteToPostgres({ path: from }, target, { force: values.force });
      const width = Math.max(...report.map((r) => r.table.length));
      out.write(`copied ${from} to ${redact(to)} in ${Date.now() - started} ms:\n`);
      for (const r of report) out.write(`  ${r.table.padEnd(width)}  ${r.rows}\n`);
      out.write(`  ${'total'.padEnd(width)}  ${report.reduce((n, r) => n + r.rows, 0)}\n`);
      return 0;
    } catch (e) {
      err.write(`db copy: ${(e as Error).message}\n`);
      return e instanceof CopyRefused ? 1 : 3;
    }
  }
  err.write(USAGE);
  return 2;
}

/** The URL without its password, for output. */
function redact(url: string): string {
  const u = new URL(url);
  u.password = '';
  u.searchParams.delete('password');
  return u.toString();
}
