import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// The fixture of migration 016's tests on both stores (src/store/sqlite/rate-limits.test.ts,
// test/unit/postgres-store.pg.test.ts): events recorded before the migration, written out of time
// order with two subjects and two limits interleaved, and the numbers the migration must give them.

/** A new folder under `parent` holding the migrations of `source` numbered below `below`. */
export function migrationsBelow(source: string, below: number, parent: string): string {
  const dir = mkdtempSync(join(parent, 'migrations-'));
  for (const f of readdirSync(source)) if (/^\d+_.+\.sql$/.test(f) && parseInt(f, 10) < below) copyFileSync(join(source, f), join(dir, f));
  return dir;
}

/** [name, subject, at]; each expires 1,000 ms after its time. */
export const EVENTS_BEFORE_016: ReadonlyArray<readonly [string, string, number]> = [
  ['newOrdersPerAccount', 'a', 300],
  ['newOrdersPerAccount', 'b', 100],
  ['newOrdersPerAccount', 'a', 100],
  ['newAccountsPerIp', 'a', 50],
  ['newOrdersPerAccount', 'a', 200],
];

/** The events after the migration, ordered by name, subject and time. */
export const NUMBERED_BY_016 = [
  { name: 'newAccountsPerIp', subject: 'a', at: 50, seq: 1 },
  { name: 'newOrdersPerAccount', subject: 'a', at: 100, seq: 1 },
  { name: 'newOrdersPerAccount', subject: 'a', at: 200, seq: 2 },
  { name: 'newOrdersPerAccount', subject: 'a', at: 300, seq: 3 },
  { name: 'newOrdersPerAccount', subject: 'b', at: 100, seq: 1 },
];
