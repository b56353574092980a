import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { describeStoreContract } from './store-contract.js';

// The SQLite store against the Store contract, on a temporary file (WAL and all, as in production).

describeStoreContract('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
  return {
    store: openSqliteStore({ path: join(dir, 'store.sqlite') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
