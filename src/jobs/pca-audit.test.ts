import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeCsr } from '../pca/make-csr.js';
import { NcpPcaClient } from '../pca/ncp-client.js';
import { startPcaSimulator, type RunningSimulator } from '../pca/simulator/index.js';
import { systemClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { cryptoRandom } from '../platform/random.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/types.js';
import { PcaAudit } from './pca-audit.js';
import { PcaCertificateSearch } from './pca-search.js';

// The audit records what the PCA issued for a key the gateway asked about but never heard back on
// (a sign processed after our timeout and after reconciliation), and leaves other certificates alone.

describe('PcaAudit', () => {
  let dir: string;
  let sim: RunningSimulator;
  let client: NcpPcaClient;
  let store: Store;
  let audit: PcaAudit;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pca-audit-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey: 'ak', secretKey: 'sk' });
    client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: 'ak', secretKey: 'sk', clock: systemClock });
    store = openSqliteStore({ path: join(dir, 'gw.sqlite') });
    audit = new PcaAudit({ store, search: new PcaCertificateSearch({ pca: client, ca: sim.caTag, store, clock: systemClock }), clock: systemClock, random: cryptoRandom, logger: silentLogger() });
  });

  afterEach(async () => {
    client.close();
    await sim.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function orderWithAttempt(spkiSha256: string, directory = 'default', startedAgoMs = 1_000): Promise<string> {
    const now = new Date();
    const { account } = await store.accounts.createOrGet({
      id: cryptoRandom.bytes(9).toString('base64url'),
      directory,
      jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
      thumbprint: cryptoRandom.bytes(9).toString('base64url'),
      contact: [],
      termsOfServiceAgreed: true,
      eabKeyId: null,
      now,
    });
    const order = await store.orders.createWithAuthorizations({
      id: cryptoRandom.bytes(9).toString('base64url'),
      directory,
      accountId: account.id,
      identifiers: [{ type: 'dns', value: 'late.example' }],
      notBefore: null,
      notAfter: null,
      profile: null,
      replaces: null,
      replacesCertificateId: null,
      expires: new Date(now.getTime() + 3_600_000),
      authorizations: [],
      now,
    });
    await store.issuance.recordAttempt({ id: cryptoRandom.bytes(9).toString('base64url'), orderId: order.id, spkiSha256, startedAt: now.getTime() - startedAgoMs });
    return order.id;
  }

  it('records a certificate for a key we asked about, once; ignores certificates for other keys', async () => {
    const ours = await makeCsr(['late.example'], { commonName: null });
    const orderId = await orderWithAttempt(ours.spkiSha256);
    const late = await client.sign(ours.csrPem); // the PCA acted; the gateway never heard
    const foreign = await client.sign((await makeCsr(['other.example'], { commonName: null })).csrPem);

    const first = await audit.run();
    expect(first).toMatchObject({ complete: true, recorded: 1 });
    const serial = (hex: string) => hex.replace(/:/g, '').toLowerCase().replace(/^(00)+/, '');
    const recorded = await store.certificates.getBySerial(serial(late.serialNo));
    expect(recorded).toMatchObject({ orderId, spkiSha256: ours.spkiSha256, status: 'valid' });
    expect(recorded!.fullchainPem.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
    expect(await store.certificates.getBySerial(serial(foreign.serialNo))).toBeNull();

    const second = await audit.run();
    expect(second).toMatchObject({ complete: true, recorded: 0 });
  });

  it("a directory's audit gives its PCA's certificates only to its own orders, and keeps its own watermark (issue 9)", async () => {
    // The same key asked for in two directories, the other directory's attempt the latest.
    const ours = await makeCsr(['late.example'], { commonName: null });
    const paymentsOrder = await orderWithAttempt(ours.spkiSha256, 'payments', 2_000);
    await orderWithAttempt(ours.spkiSha256, 'platform', 1_000);
    const late = await client.sign(ours.csrPem); // this PCA is the payments directory's
    // An audit of a directory that never asked for the key records nothing.
    const other = new PcaAudit({ store, search: new PcaCertificateSearch({ pca: client, ca: sim.caTag, store, clock: systemClock }), clock: systemClock, random: cryptoRandom, logger: silentLogger(), directory: 'elsewhere' });
    expect(await other.run()).toMatchObject({ complete: true, recorded: 0 });
    const payments = new PcaAudit({ store, search: new PcaCertificateSearch({ pca: client, ca: sim.caTag, store, clock: systemClock }), clock: systemClock, random: cryptoRandom, logger: silentLogger(), directory: 'payments' });
    expect(await payments.run()).toMatchObject({ complete: true, recorded: 1 });
    const recorded = await store.certificates.getBySerial(late.serialNo.replace(/:/g, '').toLowerCase().replace(/^(00)+/, ''));
    expect(recorded).toMatchObject({ orderId: paymentsOrder, directory: 'payments' });
    expect(await store.settings.get('pca_audit_watermark:payments')).not.toBeNull();
    expect(await store.settings.get('pca_audit_watermark')).toBeNull();
  });
});
