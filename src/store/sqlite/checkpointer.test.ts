import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { WalCheckpointer } from './checkpointer.js';
import { openDb } from './db.js';

// The WAL checkpoint thread: it, not the writer's commits, copies the log into the database file;
// closing stops it first; a thread that cannot run is reported and the writer checkpoints again.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDb = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  dirs.push(dir);
  return join(dir, 'db.sqlite');
};
// Waits below poll for up to 10 s (a loaded CI machine starts threads slowly); they end as soon as it happened.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A database in WAL mode, as the store leaves it. */
function createWalDatabase(path: string): void {
  const conn = new Database(path);
  conn.pragma('journal_mode = WAL');
  conn.exec('CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)');
  conn.close();
}

describe('the WAL checkpoint thread', () => {
  it('with the thread, the writer\'s commits do not checkpoint: 2,400 pages of log stay out of the database file', async () => {
    const path = tempDb();
    createWalDatabase(path);
    // An interval longer than the test: nothing but the writer could checkpoint.
    const db = openDb({ path, checkpointThreadMs: 60_000 });
    try {
      db.run('CREATE TABLE big (k INTEGER PRIMARY KEY, v BLOB)');
      const sizeBefore = statSync(path).size;
      for (let i = 0; i < 600; i++) db.tx(() => db.run('INSERT INTO big (v) VALUES (randomblob(16000))'));
      expect(statSync(path).size).toBe(sizeBefore);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(2000 * 4096);
    } finally {
      await db.close();
    }
    // Closed in order (thread first), the last connection checkpointed the rest and removed the log.
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(statSync(path).size).toBeGreaterThan(600 * 16000);
  });

  it('the thread copies the log into the database file while the writer goes on; the data is whole', async () => {
    const path = tempDb();
    createWalDatabase(path);
    const db = openDb({ path, checkpointThreadMs: 20 });
    try {
      db.run('CREATE TABLE big (k INTEGER PRIMARY KEY, v BLOB)');
      const sizeBefore = statSync(path).size;
      for (let i = 0; i < 300; i++) db.tx(() => db.run('INSERT INTO big (v) VALUES (randomblob(16000))'));
      for (let i = 0; i < 500 && statSync(path).size < sizeBefore + 300 * 16000; i++) await sleep(20);
      expect(statSync(path).size).toBeGreaterThan(sizeBefore + 300 * 16000);
      expect(db.one('SELECT COUNT(*) AS n, SUM(length(v)) AS bytes FROM big')).toEqual({ n: 300, bytes: 300 * 16000 });
    } finally {
      await db.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
  });

  it('without the thread option the writer checkpoints itself (commands, tests on :memory:)', async () => {
    const path = tempDb();
    createWalDatabase(path);
    const db = openDb({ path });
    try {
      db.run('CREATE TABLE big (k INTEGER PRIMARY KEY, v BLOB)');
      const sizeBefore = statSync(path).size;
      for (let i = 0; i < 600; i++) db.run('INSERT INTO big (v) VALUES (randomblob(16000))');
      // No wait: the commits past 1,000 pages of log checkpointed inline.
      expect(statSync(path).size).toBeGreaterThan(sizeBefore + 100 * 16000);
    } finally {
      await db.close();
    }
  });

  it('a thread that cannot open its database reports that it ended; stop() after that returns', async () => {
    const ended: string[] = [];
    const c = WalCheckpointer.start(join(tempDb(), 'missing', 'no.sqlite'), 20, { onEnded: (reason) => ended.push(reason) });
    for (let i = 0; i < 500 && ended.length === 0; i++) await sleep(20);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatch(/unable to open database file|directory does not exist/i);
    await c.stop();
  });

  it('stop() waits for the thread to close its connection; a second stop() is a no-op', async () => {
    const path = tempDb();
    createWalDatabase(path);
    const ended: string[] = [];
    const c = WalCheckpointer.start(path, 20, { onEnded: (reason) => ended.push(reason) });
    await sleep(60);
    await c.stop();
    await c.stop();
    expect(ended).toEqual([]);
    // No connection is left open: an exclusive lock can be taken at once.
    const conn = new Database(path, { timeout: 0 });
    conn.pragma('locking_mode = EXCLUSIVE');
    expect(() => conn.exec('BEGIN EXCLUSIVE; COMMIT')).not.toThrow();
    conn.close();
  });
});
