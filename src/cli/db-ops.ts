import { parseArgs } from 'node:util';
import { parseDurationMs } from '../admin/duration.js';
import { loadConfig } from '../config/load.js';
import { buildAdmin } from '../deps.js';
import { backupSqlite } from '../store/sqlite/backup.js';
import type { PrunableKind } from '../store/ops-types.js';
import { cliOperator, defaultIo, UsageError, type Io } from './admin-context.js';
import { progressBar } from './format.js';

// `db backup FILE` and `db prune`: an online backup of the live SQLite database (SQLite's backup
// API, while the gateway runs), and pruning of what the gateway no longer needs (redeemed nonces
// past their lifetime, finished jobs past the retention) in bounded batches, so that a large prune
// never holds the write lock for long. Both show their progress on stderr and are audited.

export const DB_OPS_USAGE = `  acme-pca-gateway db backup FILE [--config FILE]
      Online backup of the live SQLite database into FILE (0600), with progress. PostgreSQL: use pg_dump.
  acme-pca-gateway db prune [--older-than 7d] [--batch 1000] [--config FILE]
      Deletes redeemed nonces past their lifetime and finished jobs older than --older-than, in batches.
`;

export async function dbBackupCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const { values, positionals } = parseOrUsage(args, { config: { type: 'string', short: 'c' } });
  const dest = positionals[0];
  if (!dest) throw new UsageError('db backup needs the FILE to write');
  const config = loadConfig(values.config as string | undefined);
  if (config.storage.postgres) {
    io.err.write('db backup: the database is PostgreSQL; back it up with pg_dump, e.g. pg_dump -Fc -f gateway.dump "postgres://acme@db/acme" (and keep eab-kek.key with it)\n');
    return 2;
  }
  const bar = progressBar(io.err, 'backup');
  const started = Date.now();
  let result;
  try {
    result = await backupSqlite(config.storage.sqlite!, dest, (p) => bar.update(p.totalPages - p.remainingPages, p.totalPages));
  } catch (err) {
    io.err.write(`db backup: ${(err as Error).message}\n`);
    return 3;
  }
  bar.finish(`backed up ${config.storage.sqlite} to ${dest}: ${result.totalPages} pages in ${Date.now() - started} ms (keep eab-kek.key beside it)`);
  await audit(values.config as string | undefined, 'admin.db.backup', { file: dest, pages: result.totalPages });
  return 0;
}

export async function dbPruneCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const { values } = parseOrUsage(args, { config: { type: 'string', short: 'c' }, 'older-than': { type: 'string' }, batch: { type: 'string' } });
  const olderThan = parseDurationMs((values['older-than'] as string | undefined) ?? '7d');
  if (olderThan === null) throw new UsageError(`--older-than "${values['older-than']}" is not a duration like 7d`);
  const batch = Number((values.batch as string | undefined) ?? 1000);
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw new UsageError(`--batch "${values.batch}" must be a whole number from 1 to 100000`);
  const admin = await buildAdmin(loadConfig(values.config as string | undefined));
  try {
    const now = admin.clock.nowMs();
    const plan: Array<{ kind: PrunableKind; label: string; beforeMs: number }> = [
      { kind: 'nonces', label: 'redeemed nonces', beforeMs: now },
      { kind: 'jobs', label: 'finished jobs', beforeMs: now - olderThan },
    ];
    const deleted: Record<string, number> = {};
    for (const step of plan) {
      const total = await admin.store.maintenance.countPrunable(step.kind, step.beforeMs);
      const bar = progressBar(io.err, `prune ${step.label}`);
      let done = 0;
      bar.update(0, total);
      for (;;) {
        const n = await admin.store.maintenance.pruneBatch(step.kind, step.beforeMs, batch);
        done += n;
        bar.update(Math.min(done, total), total);
        if (n < batch) break;
      }
      deleted[step.kind] = done;
      bar.finish(`pruned ${done} ${step.label}`);
    }
    await admin.events.record({ action: 'admin.db.prune', actor: cliOperator(), detail: { deleted, olderThanMs: olderThan } });
    io.out.write(`pruned: ${Object.entries(deleted).map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
    return 0;
  } finally {
    await admin.close();
  }
}

function parseOrUsage(args: string[], options: Record<string, { type: 'string' | 'boolean'; short?: string }>) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function audit(configPath: string | undefined, action: string, detail: Record<string, unknown>): Promise<void> {
  const admin = await buildAdmin(loadConfig(configPath));
  try {
    await admin.events.record({ action, actor: cliOperator(), detail });
  } finally {
    await admin.close();
  }
}
