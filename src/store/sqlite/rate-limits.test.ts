import { mkdtempSync, mkdirSync, readdirSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { findMigrationsDir } from '../migrations.js';
import { migrate } from './migrate.js';

// Migration 016 numbers the rate-limit events a database already holds, in time order per subject,
// so that the windows counted by sequence number (rate-limits.ts) count them as COUNT(*) did.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of migrations/ holding only those numbered below `below`. */
function migrationsBelow(below: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  dirs.push(dir);
  const source = findMigrationsDir();
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(source)) if (/^\d+_.+\.sql$/.test(f) && parseInt(f, 10) < below) copyFileSync(join(source, f), join(dir, f));
  return dir;
}

describe('migration 016: rate-limit events numbered per subject', () => {
  it('numbers the events already recorded in time order within each subject, and the newest gets the highest', () => {
    const db = new Database(':memory:');
    migrate(db, migrationsBelow(16));
    const insert = db.prepare('INSERT INTO rate_limit_events (name, subject, at, expires_at) VALUES (?, ?, ?, ?)');
    // Written out of time order, two subjects and two limits interleaved.
    for (const [name, subject, at] of [
      ['newOrdersPerAccount', 'a', 300],
      ['newOrdersPerAccount', 'b', 100],
      ['newOrdersPerAccount', 'a', 100],
      ['newAccountsPerIp', 'a', 50],
      ['newOrdersPerAccount', 'a', 200],
    ] as const) {
      insert.run(name, subject, at, at + 1000);
    }
    expect(migrate(db)).toContain('016_rate_limit_sequence.sql');
    const rows = db.prepare('SELECT name, subject, at, seq FROM rate_limit_events ORDER BY name, subject, at').all();
    expect(rows).toEqual([
      { name: 'newAccountsPerIp', subject: 'a', at: 50, seq: 1 },
      { name: 'newOrdersPerAccount', subject: 'a', at: 100, seq: 1 },
      { name: 'newOrdersPerAccount', subject: 'a', at: 200, seq: 2 },
      { name: 'newOrdersPerAccount', subject: 'a', at: 300, seq: 3 },
      { name: 'newOrdersPerAccount', subject: 'b', at: 100, seq: 1 },
    ]);
    db.close();
  });
});
