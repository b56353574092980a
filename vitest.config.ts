import { defineConfig } from 'vitest/config';

// Two projects: "unit" (pure modules, route tests through app.request(), store contract, in-process
// simulator) is what `npm test` runs and stays fast; "e2e" drives real ACME clients (certbot, lego,
// acme-client) against the built gateway and is run by `npm run test:e2e` and by .ci/run.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/routes/**/*.test.ts', 'bench/**/*.test.ts'],
          setupFiles: ['test/setup.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          setupFiles: ['test/setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
