import type { TestProject } from 'vitest/node';
import { findPostgresBinaries, startPostgresCluster } from './postgres-cluster.js';

// globalSetup of the "postgres" test project: one cluster for the whole run, shared by its test
// files (each makes its own databases, test/support/postgres-db.ts), stopped and removed at the end.
// vitest.config.ts only runs this project when the binaries are there or CI requires them, so
// missing binaries here mean CI: the run fails instead of skipping.

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared test cluster: a superuser URL and the binaries (for tests that start their own). */
    postgres: { adminUrl: string; binDir: string } | undefined;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binDir = findPostgresBinaries();
  if (!binDir) {
    throw new Error(
      'PostgreSQL tests are required here (CI or ACME_E2E_REQUIRE_BINARIES=1), but initdb/pg_ctl were not found under /usr/lib/postgresql/*/bin: apt-get install postgresql, or set ACME_PG_BIN',
    );
  }
  const started = Date.now();
  const cluster = await startPostgresCluster(binDir);
  process.stdout.write(`PostgreSQL test cluster on 127.0.0.1:${cluster.port} (${binDir}), ready in ${Date.now() - started} ms\n`);
  project.provide('postgres', { adminUrl: cluster.adminUrl, binDir });
  return () => cluster.dispose();
}
