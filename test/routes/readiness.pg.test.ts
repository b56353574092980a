import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { startPostgresCluster, type PostgresCluster } from '../support/postgres-cluster.js';
import { createTestDatabase, sharedCluster } from '../support/postgres-db.js';

// /readyz reflects the database (issue 12): a replica that loses PostgreSQL answers 503 within
// seconds, never hangs, and is ready again once the database is back. The server is stopped and
// frozen here, so this file has a cluster of its own rather than the run's shared one.

let cluster: PostgresCluster;
let t: TestGateway;

beforeAll(async () => {
  cluster = await startPostgresCluster(sharedCluster().binDir);
  t = await startTestGateway({ database: await createTestDatabase(cluster.adminUrl, 'readyz') });
}, 60_000);

afterAll(async () => {
  await t?.dispose().catch(() => undefined);
  await cluster?.dispose();
});

/** GET /readyz, with how long it took to answer. */
async function readyz(): Promise<{ status: number; ms: number; body: { status: string; reason?: string } }> {
  const started = Date.now();
  const res = await t.admin('/readyz', { token: null });
  return { status: res.status, ms: Date.now() - started, body: (await res.json()) as { status: string; reason?: string } };
}

async function untilReady(timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await readyz();
    if (r.status === 200 || Date.now() > deadline) return r.status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The server's processes: the postmaster (from its pid file) and its children. */
function serverPids(): number[] {
  const postmaster = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => pid > 0);
  return [postmaster, ...children];
}

describe('/readyz and a lost PostgreSQL', () => {
  it('stopped: 503 within seconds, every time; started again: 200, and requests work again', async () => {
    expect((await readyz()).status).toBe(200);
    await cluster.stop();
    for (let i = 0; i < 3; i++) {
      const r = await readyz();
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('not ready');
      expect(r.ms).toBeLessThan(3_000);
    }
    // An ACME request that needs the database (the nonce is redeemed there) fails fast too, as a
    // server error, instead of hanging; getting the nonce needs no database (it is HMAC-signed).
    const client = await AcmeTestClient.create(t);
    const started = Date.now();
    const res = await client.newAccount();
    expect(res.status).toBe(500);
    expect(res.body.type).toBe('urn:ietf:params:acme:error:serverInternal');
    expect(Date.now() - started).toBeLessThan(6_000);

    await cluster.start();
    expect(await untilReady(15_000)).toBe(200);
    const c = await AcmeTestClient.create(t);
    expect((await c.newAccount()).status).toBe(201);
  }, 60_000);

  it('frozen (a server that stops answering without closing connections): 503 within seconds; thawed: 200', async () => {
    expect((await readyz()).status).toBe(200);
    const pids = serverPids();
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      for (let i = 0; i < 2; i++) {
        const r = await readyz();
        expect(r.status).toBe(503);
        expect(r.ms).toBeLessThan(3_500);
      }
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    expect(await untilReady(15_000)).toBe(200);
  }, 60_000);
});
