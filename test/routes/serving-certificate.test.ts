import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NcpPcaClient } from '../../src/pca/ncp-client.js';
import { startPcaSimulator, type RunningSimulator } from '../../src/pca/simulator/index.js';
import type { PcaClient } from '../../src/pca/types.js';
import { ManualClock } from '../../src/platform/clock.js';
import { startTestGateway, TEST_STORE, type TestGateway } from '../harness.js';
import { createTestDatabase } from '../support/postgres-db.js';

// tls.mode "pca" on the real stores: the serving certificate is kept in the database (its key sealed
// with eab-kek.key) and obtained by one gateway at a time. On PostgreSQL two gateways start on one
// database at once, as replicas do, and the PCA sees one sign call; on SQLite (one process per file)
// concurrent starts inside the gateway share the same lock. Either way a gateway whose file copy is
// gone reads the certificate back from the database without asking the PCA, and a renewal by one is
// picked up by the other without a restart.

let dir: string;
let sim: RunningSimulator;
let client: NcpPcaClient;
let signCalls = 0;
// One clock for the PCA, its client and the gateways, so that "25 days later" holds for all of them.
const clock = new ManualClock(Date.now());
const counting: PcaClient = {
  sign: (csr, opts) => {
    signCalls++;
    return client.sign(csr, opts);
  },
  chain: () => client.chain(),
  revoke: (s) => client.revoke(s),
  getCert: (s) => client.getCert(s),
  listCerts: (p) => client.listCerts(p),
  crl: () => client.crl(),
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'serving-routes-'));
  sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey: 'ak', secretKey: 'sk', clock });
  client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: 'ak', secretKey: 'sk', clock });
});
afterAll(async () => {
  client?.close();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A gateway in tls.mode pca on the shared simulator; every replica of a test shares one KEK file. */
async function replica(o: { dir: string; kekFile: string; database?: TestGateway['database'] }): Promise<TestGateway> {
  return startTestGateway({
    dir: o.dir,
    ...(o.database ? { database: o.database } : {}),
    config: { server: { tls: { mode: 'pca' } }, acme: { eabKekFile: o.kekFile }, pca: { kind: 'simulator', period: 30 } },
    overrides: { pca: counting, trustAnchorPems: [sim.rootPem], clock },
  });
}

const DAY = 86_400_000;

describe(`serving certificate shared through the database (${TEST_STORE})`, () => {
  it('gateways starting at once make one sign call; a gateway without its file copy reads it back; a renewal is picked up', async () => {
    const base = mkdtempSync(join(tmpdir(), 'serving-replicas-'));
    const kekFile = join(base, 'eab-kek.key');
    const database = TEST_STORE === 'postgres' ? await createTestDatabase() : undefined;
    let a = await replica({ dir: join(base, 'a'), kekFile, ...(database ? { database } : {}) });
    // PostgreSQL: a second gateway on the same database. SQLite has one process per file, so the
    // "second replica" is the same gateway asked twice at once.
    let b = database ? await replica({ dir: join(base, 'b'), kekFile, database }) : a;
    try {
      const before = signCalls;
      const [ca, cb] = await Promise.all([a.gw.servingCertificate!.init(), b.gw.servingCertificate!.init()]);
      expect(signCalls).toBe(before + 1);
      expect(cb.certPem).toBe(ca.certPem);
      const stored = await a.gw.store.settings.get('serving_certificate:acme.test');
      expect(stored).toContain(ca.certPem.split('\n')[1]);
      expect(stored).not.toContain('PRIVATE KEY');
      expect(existsSync(join(base, 'serving-cert.pem'))).toBe(true); // the file copy sits beside the KEK

      // A restarted gateway with no file copy: the database has it.
      rmSync(join(base, 'serving-cert.pem'));
      rmSync(join(base, 'serving-key.pem'));
      const single = b === a;
      a = await a.restart();
      if (single) b = a;
      expect((await a.gw.servingCertificate!.init()).certPem).toBe(ca.certPem);
      expect(signCalls).toBe(before + 1);

      // Both reach the renewal time together: one sign call again, the same new certificate for both.
      clock.advance(25 * DAY);
      const [ra, rb] = await Promise.all([a.gw.servingCertificate!.refresh(), b.gw.servingCertificate!.refresh()]);
      expect(signCalls).toBe(before + 2);
      const renewed = (ra ?? rb)!;
      expect(renewed.notAfter.getTime()).toBeGreaterThan(ca.notAfter.getTime() + 20 * DAY); // signed 25 days later
      if (database) {
        // On PostgreSQL each replica swapped in the renewed certificate, the signer and the one that waited.
        expect(ra?.certPem).toBe(renewed.certPem);
        expect(rb?.certPem).toBe(renewed.certPem);
      }
      expect(await a.gw.store.settings.get('serving_certificate:acme.test')).toContain(renewed.certPem.split('\n')[1]);
    } finally {
      if (b !== a) await b.close();
      await a.close();
      await database?.drop();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
