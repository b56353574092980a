import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startTestGateway, TEST_STORE } from '../harness.js';

// The "postgres" project's route tests are only worth running if the harness really puts the
// gateway on PostgreSQL: this fails if the switch stops reaching it (and the routes silently run
// on SQLite twice).
it('the route-test harness runs the gateway on a fresh PostgreSQL database', async () => {
  expect(TEST_STORE).toBe('postgres');
  const t = await startTestGateway();
  try {
    expect(t.database).not.toBeNull();
    expect(t.gw.config.storage.postgres).toBe(t.database!.url);
    expect(t.gw.config.storage.sqlite).toBeUndefined();
    expect((await t.admin('/readyz')).status).toBe(200);
    expect(existsSync(t.sqlitePath)).toBe(false);
  } finally {
    await t.dispose();
  }
});
