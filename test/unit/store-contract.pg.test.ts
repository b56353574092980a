import { afterAll, beforeAll } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, truncateAll, type TestDatabase } from '../support/postgres-db.js';
import { describeReplicaContract } from './store-contract-replicas.js';
import { describeStoreContract } from './store-contract.js';

// The PostgreSQL store against the same Store contract as SQLite, held to the shared-by-replicas
// rule, plus the two-store (two pools on one database) replica contract. One database for the
// file, emptied before each test: as fresh as a new one, at a fraction of the cost.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(undefined, 'contract');
});
afterAll(async () => db?.drop());

async function fresh(): Promise<Store> {
  const store = await openPostgresStore({ url: db.url, poolSize: 4 });
  await truncateAll(db.url);
  return store;
}

describeStoreContract(
  'postgres',
  async () => ({ store: await fresh(), cleanup: async () => undefined }),
  { sharedByReplicas: true },
);

describeReplicaContract('postgres', async () => {
  const first = await fresh();
  const second = await openPostgresStore({ url: db.url, poolSize: 4 });
  return {
    stores: [first, second],
    cleanup: async () => {
      await Promise.all([first.close(), second.close()]);
    },
  };
});
