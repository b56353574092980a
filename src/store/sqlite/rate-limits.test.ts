import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_BEFORE_016, migrationsBelow, NUMBERED_BY_016 } from '../../../test/support/rate-limit-migration.js';
import { findMigrationsDir } from '../migrations.js';
import { migrate } from './migrate.js';

// Migration 016 numbers the rate-limit events a database already holds, in time order per subject,
// so that the windows counted by sequence number (rate-limits.ts) count them as COUNT(*) did.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('migration 016: rate-limit events numbered per subject', () => {
  it('numbers the events already recorded in time order within each subject, and the newest gets the highest', () => {
    const parent = mkdtempSync(join(tmpdir(), 'rate-016-'));
    dirs.push(parent);
    const db = new Database(':memory:');
    migrate(db, migrationsBelow(findMigrationsDir(), 16, parent));
    const insert = db.prepare('INSERT INTO rate_limit_events (name, subject, at, expires_at) VALUES (?, ?, ?, ?)');
    for (const [name, subject, at] of EVENTS_BEFORE_016) insert.run(name, subject, at, at + 1000);
    expect(migrate(db)).toContain('016_rate_limit_sequence.sql');
    expect(db.prepare('SELECT name, subject, at, seq FROM rate_limit_events ORDER BY name, subject, at').all()).toEqual(NUMBERED_BY_016);
    db.close();
  });
});
