import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

// Databases on the shared test cluster (test/support/postgres-global-setup.ts), from inside a test
// file of the "postgres" project: each is made fresh from template0 and dropped when done.

export function sharedCluster(): { adminUrl: string; binDir: string } {
  const info = inject('postgres');
  if (!info) throw new Error('no PostgreSQL test cluster: this file runs in the "postgres" vitest project');
  return info;
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database (no schema yet: opening a store migrates it). */
export async function createTestDatabase(adminUrl: string = sharedCluster().adminUrl, prefix = 'acme'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE ends sessions a test left open (a gateway that failed before it closed its pool).
    drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Empties every table of the gateway's schema (what a fresh database would hold after migrating). */
export async function truncateAll(url: string): Promise<void> {
  await admin(url, async (c) => {
    const { rows } = await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'");
    if (rows.length) await c.query(`TRUNCATE ${rows.map((r) => pg.escapeIdentifier(r.t)).join(', ')} RESTART IDENTITY CASCADE`);
  });
}
