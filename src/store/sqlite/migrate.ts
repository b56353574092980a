import type Database from 'better-sqlite3';
import { findMigrationsDir, readMigrations } from '../migrations.js';

/**
 * Applies numbered migrations (NNN_name.sql) in order, each in its own transaction, recording them in
 * schema_migrations so a restart applies only what is new.
 */
export function migrate(db: Database.Database, dir: string = findMigrationsDir()): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const done: string[] = [];
  for (const m of readMigrations(dir)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
    done.push(m.name);
  }
  return done;
}
