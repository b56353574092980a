import { configDefaults, defineConfig } from 'vitest/config';
import { findPostgresBinaries } from './test/support/postgres-cluster.js';
import { prerequisitesRequired } from './test/support/prerequisites.js';

// Three projects:
// - "unit" (pure modules, route tests through app.request() on SQLite, store contract, in-process
//   simulator) stays fast and needs nothing installed;
// - "postgres" runs the Store contract, the replica contract and the same route tests again on
//   PostgreSQL (ACME_TEST_STORE=postgres switches test/harness.ts), against a throwaway cluster
//   that its globalSetup starts from Debian's binaries; `npm test` runs both;
// - "e2e" drives real ACME clients (certbot, lego, acme-client) against the built gateway and is
//   run by `npm run test:e2e` and by .ci/run.
// Without the PostgreSQL binaries the "postgres" project is one loudly skipped test, except where
// they are required (CI, or ACME_E2E_REQUIRE_BINARIES=1): there its globalSetup fails the run.
const postgresTests = findPostgresBinaries() !== null || prerequisitesRequired();

// With VITEST_REPORT_DIR set (.ci/run does), a test worker writes a Node diagnostic report there on
// SIGUSR2 (JavaScript and native stacks, handles): what .ci/run asks for from a suite that runs past
// its time limit, to say where it is stuck.
const reportDir = process.env.VITEST_REPORT_DIR;
const execArgv = reportDir
  ? ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${reportDir}`]
  : [];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/routes/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: [...configDefaults.exclude, '**/*.pg.test.ts'],
          setupFiles: ['test/setup.ts'],
          execArgv,
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'postgres',
          ...(postgresTests
            ? {
                include: ['test/unit/**/*.pg.test.ts', 'test/routes/**/*.test.ts'],
                globalSetup: ['test/support/postgres-global-setup.ts'],
                env: { ACME_TEST_STORE: 'postgres' },
              }
            : { include: ['test/support/postgres-skipped.test.ts'] }),
          setupFiles: ['test/setup.ts'],
          execArgv,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          setupFiles: ['test/setup.ts'],
          execArgv,
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
