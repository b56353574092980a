import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issuedCertificate } from '../pca/issued.js';
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
    audit = new PcaAudit({ store, search: new PcaCertificateSearch(client), clock: systemClock, random: cryptoRandom, logger: silentLogger() });
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
    const other = new PcaAudit({ store, search: new PcaCertificateSearch(client), clock: systemClock, random: cryptoRandom, logger: silentLogger(), directory: 'elsewhere' });
    expect(await other.run()).toMatchObject({ complete: true, recorded: 0 });
    const payments = new PcaAudit({ store, search: new PcaCertificateSearch(client), clock: systemClock, random: cryptoRandom, logger: silentLogger(), directory: 'payments' });
    expect(await payments.run()).toMatchObject({ complete: true, recorded: 1 });
    const recorded = await store.certificates.getBySerial(late.serialNo.replace(/:/g, '').toLowerCase().replace(/^(00)+/, ''));
    expect(recorded).toMatchObject({ orderId: paymentsOrder, directory: 'payments' });
    expect(await store.settings.get('pca_audit_watermark:payments')).not.toBeNull();
    expect(await store.settings.get('pca_audit_watermark')).toBeNull();
  });

  /** An order moved to processing with a sign call for its key recorded (pending), as the issuance job leaves it. */
  async function processingOrder(name: string) {
    const id = () => cryptoRandom.bytes(9).toString('base64url');
    const now = new Date();
    const { account } = await store.accounts.createOrGet({
      id: id(), directory: 'default', jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, thumbprint: id(), contact: [], termsOfServiceAgreed: true, eabKeyId: null, now,
    });
    const challengeId = id();
    const order = await store.orders.createWithAuthorizations({
      id: id(), directory: 'default', accountId: account.id, identifiers: [{ type: 'dns', value: name }], notBefore: null, notAfter: null,
      profile: null, replaces: null, replacesCertificateId: null, expires: new Date(now.getTime() + 3_600_000), now,
      authorizations: [{ id: id(), identifier: { type: 'dns', value: name }, wildcard: false, expires: new Date(now.getTime() + 3_600_000), challenges: [{ id: challengeId, type: 'http-01', token: id() }] }],
    });
    const job = () => ({ id: id(), runAt: now.getTime(), deadlineAt: now.getTime() + 60_000 });
    expect(await store.challenges.start(challengeId, job(), now)).toBe(true);
    expect(await store.challenges.recordValidation({ challengeId, valid: true, error: null, record: null, now })).toBe(true);
    const key = await makeCsr([name], { commonName: null });
    expect(await store.orders.markProcessing(order.id, { der: Buffer.from([1]), spkiSha256: key.spkiSha256 }, job(), now)).toBe(true);
    const attemptId = id();
    await store.issuance.recordAttempt({ id: attemptId, orderId: order.id, spkiSha256: key.spkiSha256, startedAt: now.getTime() });
    return { orderId: order.id, attemptId, key };
  }
  const bareSerial = (colon: string) => colon.replace(/:/g, '').toLowerCase().replace(/^(00)+/, '');

  it('leaves the certificate of an issuance still in flight (order processing, sign call pending) to the issuance job', async () => {
    // Behind a load balancer the audit runs on one replica while another is between the PCA's answer
    // and storing it: recording it as an orphan would be a false alarm.
    const { orderId, attemptId, key } = await processingOrder('busy.example');
    const signed = await client.sign(key.csrPem); // answered, not yet stored by the job

    expect(await audit.run()).toMatchObject({ complete: true, recorded: 0 });
    // Once the call's outcome is in doubt (the job gave the attempt up as unknown), it is the audit's.
    await store.issuance.finishAttempt(attemptId, 'unknown', null, 'timeout', Date.now());
    expect(await audit.run()).toMatchObject({ complete: true, recorded: 1 });
    expect(await store.certificates.getBySerial(bareSerial(signed.serialNo))).toMatchObject({ orderId });
  });

  it('does not record a certificate whose issuance completed while the audit was reading (read skew across replicas)', async () => {
    const { orderId, attemptId, key } = await processingOrder('skew.example');
    const signed = await client.sign(key.csrPem);
    const stalePending = (await store.issuance.latestForKey(key.spkiSha256))!;
    // Another replica completes the issuance in one write...
    const cert = issuedCertificate(signed.leafPem, signed.chainPems, signed.serialNo, 'cert-skew')!;
    expect(await store.orders.completeIssuance(orderId, attemptId, cert, new Date())).toBe(true);
    // ...after this audit read "no such serial" and the attempt as pending, and before it read the order.
    let staleSerial = true;
    let staleAttempt = true;
    const skewed: Store = {
      ...store,
      certificates: { ...store.certificates, getBySerial: async (s) => (staleSerial ? ((staleSerial = false), null) : store.certificates.getBySerial(s)) },
      issuance: { ...store.issuance, latestForKey: async (k, d) => (staleAttempt ? ((staleAttempt = false), stalePending) : store.issuance.latestForKey(k, d)) },
    };
    const skewedAudit = new PcaAudit({ store: skewed, search: new PcaCertificateSearch(client), clock: systemClock, random: cryptoRandom, logger: silentLogger() });
    expect(await skewedAudit.run()).toMatchObject({ complete: true, recorded: 0 });
    expect(await store.certificates.getBySerial(bareSerial(signed.serialNo))).toMatchObject({ orderId, id: 'cert-skew' });
  });
});
