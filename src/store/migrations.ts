import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The numbered migrations both stores apply: migrations/NNN_name.sql for SQLite, and beside each a
// PostgreSQL twin with the same number in migrations/postgres/, so that both schemas move together.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Finds the repository's migrations/ folder whether we run from src/ (tests) or dist/src/ (built). */
export function findMigrationsDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`migrations/ not found above ${from}`);
}

/** The migrations of a folder (NNN_name.sql) in the order of their numbers. */
export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((name) => ({ version: parseInt(name, 10), name, sql: readFileSync(join(dir, name), 'utf8') }));
}
