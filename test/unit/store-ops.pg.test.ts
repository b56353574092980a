import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { createTestDatabase, truncateAll, type TestDatabase } from '../support/postgres-db.js';
import { describeOpsContract } from './store-ops-contract.js';

// The PostgreSQL store against the operations contract (the same SQL as SQLite), and the
// append-only audit table.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(undefined, 'ops');
});
afterAll(async () => db?.drop());

describeOpsContract('postgres', async () => {
  const store = await openPostgresStore({ url: db.url, poolSize: 4 });
  await truncateAll(db.url);
  return { store, cleanup: async () => undefined };
});

describe('audit_events on PostgreSQL', () => {
  it('refuses UPDATE and DELETE', async () => {
    const store = await openPostgresStore({ url: db.url, poolSize: 2 });
    await truncateAll(db.url);
    await store.audit.append({
      id: 'e1', at: new Date(1), actor: 'system', actorName: null, clientIp: null, eabKeyId: null, action: 'x', directory: null, accountId: null, orderId: null, certificateId: null, serialHex: null, detail: {},
    });
    await store.close();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await expect(c.query("UPDATE audit_events SET action = 'y'")).rejects.toThrow(/append-only/);
      await expect(c.query('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
      expect((await c.query('SELECT action FROM audit_events')).rows).toEqual([{ action: 'x' }]);
    } finally {
      await c.end();
    }
  });
});
