import { mkdtempSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidityPolicy } from '../acme/validity.js';
import { normalizeSerialHex } from '../acme/issued-check.js';
import { toPem } from '../acme/pem.js';
import { AcmeProblem } from '../acme/problems.js';
import type { CaWatch } from '../pca/ca-status.js';
import { PcaError } from '../pca/errors.js';
import { NcpPcaClient } from '../pca/ncp-client.js';
import { startPcaSimulator, type RunningSimulator } from '../pca/simulator/index.js';
import { makeCsr } from '../pca/make-csr.js';
import type { PcaCertPage, PcaClient } from '../pca/types.js';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { cryptoRandom } from '../platform/random.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/types.js';
import { processingOrder as processingOrderOf } from '../../test/support/issuance-fixtures.js';
import { IssuanceJob } from './issue.js';

// IssuanceJob against the real PCA simulator (in process, on loopback) and a real SQLite store:
// reconciliation when a sign answer is lost, a crash in the middle of adopting, a PCA whose
// certificate list runs newest first, and a deadline that passes while the outcome is unknown.

/** Delegates to the real client; counts sign calls; can reverse the list order, fail list calls or signs, or replace getCert's caChain. */
class ProbePca implements PcaClient {
  signs = 0;
  newestFirst = false;
  listDown = false;
  /** The next sign fails with this before the PCA sees it (nothing is issued). */
  failNextSign: PcaError | null = null;
  /** Replaces the caChain getCert reports. */
  getCertChain: string[] | null = null;
  constructor(private readonly inner: PcaClient) {}
  /** The options of the last sign call. */
  lastSignOpts: Parameters<PcaClient['sign']>[1] | undefined;
  sign(...a: Parameters<PcaClient['sign']>) {
    this.signs++;
    this.lastSignOpts = a[1];
    const fail = this.failNextSign;
    this.failNextSign = null;
    return fail ? Promise.reject(fail) : this.inner.sign(...a);
  }
  chain() {
    return this.inner.chain();
  }
  revoke(s: string) {
    return this.inner.revoke(s);
  }
  async getCert(s: string) {
    const info = await this.inner.getCert(s);
    return this.getCertChain ? { ...info, caChainPems: this.getCertChain } : info;
  }
  async listCerts(pageNo = 1): Promise<PcaCertPage> {
    if (this.listDown) throw new Error('list endpoint down');
    if (!this.newestFirst) return this.inner.listCerts(pageNo);
    // Emulate a PCA that lists newest first: page n of the reversed list.
    const head = await this.inner.listCerts(1);
    const all: string[] = [];
    for (let p = 1; p <= head.totalPageNo; p++) all.push(...(p === 1 ? head.serials : (await this.inner.listCerts(p)).serials));
    all.reverse();
    const size = head.serials.length || 1;
    return { ...head, currentPageNo: pageNo, serials: all.slice((pageNo - 1) * size, pageNo * size) };
  }
  crl() {
    return this.inner.crl();
  }
  getCa() {
    return this.inner.getCa();
  }
  rotateCrl() {
    return this.inner.rotateCrl();
  }
}

describe('IssuanceJob reconciliation', () => {
  let dir: string;
  let clock: ManualClock;
  let sim: RunningSimulator;
  let client: NcpPcaClient;
  let pca: ProbePca;
  let store: Store;
  let job: IssuanceJob;
  let anchors: X509Certificate[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'issue-job-'));
    clock = new ManualClock(Date.now());
    const accessKey = 'ak';
    const secretKey = 'sk';
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey, secretKey, clock });
    client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey, secretKey, clock, timeoutMs: 5_000 });
    pca = new ProbePca(client);
    anchors = [new X509Certificate(sim.rootPem)];
    store = openSqliteStore({ path: join(dir, 'gw.sqlite') });
    job = new IssuanceJob({
      store,
      pca,
      validity: new ValidityPolicy({ defaultPeriodDays: 90, profiles: {} }),
      trustAnchors: () => anchors,
      clock,
      random: cryptoRandom,
      logger: silentLogger(),
    });
  });

  afterEach(async () => {
    client.close();
    await sim.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An order for 127.0.0.1 taken to processing with a fresh CSR; returns it, its key hash and its job. */
  const processingOrder = async (deadlineMs = 600_000) => processingOrderOf(store, clock, { deadlineMs });

  const allIssued = async () => {
    const res = await fetch(`${sim.url}/_simulator/issued`);
    return (await res.json()) as { serialNo: string; spkiSha256: string }[];
  };
  const issuedFor = async (spki: string) => (await allIssued()).filter((c) => c.spkiSha256 === spki);
  /** The gateway's record of a PCA certificate (attached or orphan), by the PCA's serial. */
  const recorded = (pcaSerial: string) => store.certificates.getBySerial(normalizeSerialHex(pcaSerial));

  /** Certificates for the same name as the orders (127.0.0.1) but another key, one clock second apart. */
  async function signForeign(n: number): Promise<string[]> {
    const other = await makeCsr(['127.0.0.1'], { commonName: null });
    const serials: string[] = [];
    for (let i = 0; i < n; i++) {
      clock.advance(1000);
      serials.push((await client.sign(other.csrPem)).serialNo);
    }
    return serials;
  }

  it("issue 10: the CA's limits: while it is not ACTIVE the job waits without signing; then the period is capped at its end and keyType/keyBits are the CA's", async () => {
    let limits: ReturnType<CaWatch['signLimits']> = { kind: 'wait', reason: 'the Private CA is DISABLED, not ACTIVE (Get CA); issuance waits until it is' };
    let refreshed = 0;
    const ca = { signLimits: () => limits, refreshIfOlderThan: async () => void refreshed++ };
    job = new IssuanceJob({ store, pca, validity: new ValidityPolicy({ defaultPeriodDays: 90, profiles: {} }), trustAnchors: () => anchors, clock, random: cryptoRandom, logger: silentLogger(), ca });
    const { order, job: j } = await processingOrder();
    await expect(job.run(j)).rejects.toThrow('the Private CA is DISABLED, not ACTIVE (Get CA); issuance waits until it is');
    expect(refreshed).toBe(1);
    expect(pca.signs).toBe(0);
    expect(await store.issuance.attemptsForOrder(order.id)).toEqual([]);
    limits = { kind: 'sign', maxPeriodDays: 19, caKey: { kind: 'EC', bits: 256 } };
    await job.run(j);
    expect(pca.lastSignOpts).toMatchObject({ period: 19, caKey: { kind: 'EC', bits: 256 } });
    expect((await store.orders.get(order.id))!.status).toBe('valid');
  });

  it("issue 10: a CA that ends within a day: the order ends invalid naming the CA's end, nothing signed", async () => {
    const problem = new AcmeProblem('serverInternal', "the Private CA's certificate ends at 2026-01-01T00:00:00.000Z: it cannot sign a certificate valid for a whole day; the operator must renew or replace the CA");
    job = new IssuanceJob({ store, pca, validity: new ValidityPolicy({ defaultPeriodDays: 90, profiles: {} }), trustAnchors: () => anchors, clock, random: cryptoRandom, logger: silentLogger(), ca: { signLimits: () => ({ kind: 'fail', problem }), refreshIfOlderThan: async () => {} } });
    const { order, job: j } = await processingOrder();
    await job.run(j);
    expect((await store.orders.get(order.id))!.error).toMatchObject({ type: 'urn:ietf:params:acme:error:serverInternal', detail: problem.detail });
    expect(pca.signs).toBe(0);
  });

  it('no trust anchor yet (PCA chain not fetched): the job waits without signing, then issues once it is there', async () => {
    const { order, job: j } = await processingOrder();
    anchors = [];
    await expect(job.run(j)).rejects.toThrow(/waiting for the PCA trust anchor/);
    expect(pca.signs).toBe(0);
    expect((await store.orders.get(order.id))!.status).toBe('processing');
    anchors = [new X509Certificate(sim.rootPem)];
    await job.run(j);
    expect(pca.signs).toBe(1);
    expect((await store.orders.get(order.id))!.status).toBe('valid');
  });

  it('a sign answer lost, then a crash while adopting: the next run adopts the same certificate, never signs twice', async () => {
    const { order, spki, job: j } = await processingOrder();
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    expect(pca.signs).toBe(1);

    // The process "dies" between finding the certificate and attaching it.
    const complete = store.orders.completeIssuance;
    store.orders.completeIssuance = async () => {
      throw new Error('killed');
    };
    await expect(job.run(j)).rejects.toThrow('killed');
    store.orders.completeIssuance = complete;

    await job.run(j);
    expect(pca.signs).toBe(1);
    const after = (await store.orders.get(order.id))!;
    expect(after.status).toBe('valid');
    const issued = await issuedFor(spki);
    expect(issued).toHaveLength(1);
    const attempts = await store.issuance.attemptsForOrder(order.id);
    expect(attempts.map((a) => [a.outcome, a.pcaSerial])).toEqual([['issued', issued[0]!.serialNo]]);
  });

  it('finds the lost certificate on a PCA that lists newest first, past a page of older certificates', async () => {
    // 120 certificates issued an hour ago: more than one page (100), all too old to be ours.
    const other = await makeCsr(['127.0.0.1'], { commonName: null });
    const now = clock.nowMs();
    clock.set(now - 3_600_000);
    for (let i = 0; i < 120; i++) await client.sign(other.csrPem);
    clock.set(now);
    pca.newestFirst = true;

    const { order, spki, job: j } = await processingOrder();
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    await job.run(j);
    expect(pca.signs).toBe(1);
    expect((await store.orders.get(order.id))!.status).toBe('valid');
    expect(await issuedFor(spki)).toHaveLength(1);
  });

  it('deadline with the outcome unknown and the PCA list down: the order ends invalid, a follow-up job records the certificate later', async () => {
    const { order, spki, job: j } = await processingOrder();
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    pca.listDown = true;
    await job.giveUp(j, new Error('deadline passed'));

    const ended = (await store.orders.get(order.id))!;
    expect(ended.status).toBe('invalid');
    expect(ended.error?.type).toBe('urn:ietf:params:acme:error:serverInternal');
    expect((await store.issuance.attemptsForOrder(order.id)).map((a) => a.outcome)).toEqual(['unknown']);

    // The follow-up job retries while the PCA is still down...
    clock.advance(10_000);
    const [followUp] = await store.jobs.claimDue('test', clock.nowMs(), 60_000, 5);
    expect(followUp?.subjectId).toBe(order.id);
    await expect(job.run(followUp!)).rejects.toThrow(/follow-up reconciliation failed/);

    // ...and once it answers, records what the PCA issued, without touching the ended order.
    pca.listDown = false;
    await job.run(followUp!);
    const [issued] = await issuedFor(spki);
    const cert = await store.certificates.getBySerial(new X509Certificate(
      (await client.getCert(issued!.serialNo)).certPem,
    ).serialNumber.toLowerCase().replace(/^(00)+/, ''));
    expect(cert).not.toBeNull();
    expect((await store.orders.get(order.id))!.status).toBe('invalid');
    expect((await store.issuance.attemptsForOrder(order.id)).map((a) => [a.outcome, a.pcaSerial])).toEqual([['issued', issued!.serialNo]]);
    expect(pca.signs).toBe(1);
  });

  it('deadline with the outcome unknown and the PCA reachable: the certificate is adopted instead of ending the order', async () => {
    const { order, job: j } = await processingOrder();
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    await job.giveUp(j, new Error('deadline passed'));
    expect((await store.orders.get(order.id))!.status).toBe('valid');
    expect(pca.signs).toBe(1);
  });
  it.each([false, true])(
    'certificates for another key issued in the same window are never adopted (newest first: %s): only the key excludes them',
    async (newestFirst) => {
      pca.newestFirst = newestFirst;
      const { order, spki, job: j } = await processingOrder();
      const before = await signForeign(3);
      sim.faults.set({ dropAfterSignRate: 1 });
      await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
      sim.faults.set({});
      const after = await signForeign(3);

      await job.run(j);
      expect(pca.signs).toBe(1);
      const done = (await store.orders.get(order.id))!;
      expect(done.status).toBe('valid');
      const [ours] = await issuedFor(spki);
      expect((await store.certificates.get(done.certificateId!))?.pcaSerial).toBe(ours!.serialNo);
      for (const serial of [...before, ...after]) expect(await recorded(serial)).toBeNull();
      expect((await store.issuance.attemptsForOrder(order.id)).map((a) => [a.outcome, a.pcaSerial])).toEqual([['issued', ours!.serialNo]]);
    },
  );

  it('outcome unknown but nothing issued for our key, only for other keys since: reconciliation adopts nothing and signs again', async () => {
    const { order, spki, job: j } = await processingOrder();
    pca.failNextSign = new PcaError('timeout', 'PCA POST timed out (test)');
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    expect((await store.issuance.attemptsForOrder(order.id)).map((a) => a.outcome)).toEqual(['unknown']);
    const foreign = await signForeign(3);

    await job.run(j);
    expect(pca.signs).toBe(2);
    expect((await store.orders.get(order.id))!.status).toBe('valid');
    const ours = await issuedFor(spki);
    expect(ours).toHaveLength(1);
    for (const serial of foreign) expect(await recorded(serial)).toBeNull();
    expect((await store.issuance.attemptsForOrder(order.id)).map((a) => [a.outcome, a.pcaSerial])).toEqual([
      ['failed', null],
      ['issued', ours[0]!.serialNo],
    ]);
  });

  it('the PCA certifies another key than the CSR\'s: the order ends invalid, the certificate is kept on record, never attached', async () => {
    const { order, spki, job: j } = await processingOrder();
    const known = new Set((await allIssued()).map((c) => c.serialNo));
    sim.faults.set({ wrongKeyRate: 1 });
    await job.run(j);
    const ended = (await store.orders.get(order.id))!;
    expect(ended.status).toBe('invalid');
    expect(ended.certificateId).toBeNull();
    expect(ended.error).toMatchObject({ type: 'urn:ietf:params:acme:error:serverInternal', detail: "the Private CA returned an unusable certificate: the issued certificate's public key is not the CSR's" });
    const fresh = (await allIssued()).filter((c) => !known.has(c.serialNo));
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.spkiSha256).not.toBe(spki);
    expect(await recorded(fresh[0]!.serialNo)).not.toBeNull();
    expect((await store.issuance.attemptsForOrder(order.id)).map((a) => [a.outcome, a.pcaSerial, a.error])).toEqual([
      ['issued', fresh[0]!.serialNo, "rejected: the issued certificate's public key is not the CSR's"],
    ]);
  });

  it('adopting when getCert reports no caChain: the chain comes from the CA chain endpoint, issuer first, root left out', async () => {
    const { order, job: j } = await processingOrder();
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    sim.faults.set({});
    pca.getCertChain = [];
    await job.run(j);
    const done = (await store.orders.get(order.id))!;
    expect(done.status).toBe('valid');
    const cert = (await store.certificates.get(done.certificateId!))!;
    const [, ...issuers] = cert.fullchainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g)!;
    const chain = await client.chain();
    expect(issuers).toEqual([chain[0]]);
    expect(new X509Certificate(issuers[0]!).fingerprint256).not.toBe(anchors[0]!.fingerprint256);
  });

  it('adopting when nothing the PCA lists issued the leaf: refused like a sign answer without issuers, kept on record', async () => {
    const { order, spki, job: j } = await processingOrder();
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);
    sim.faults.set({});
    const [stranger] = await signForeign(1);
    pca.getCertChain = [(await client.getCert(stranger!)).certPem];
    await job.run(j);
    const ended = (await store.orders.get(order.id))!;
    expect(ended.status).toBe('invalid');
    expect(ended.error?.detail).toBe('the Private CA returned an unusable certificate: the PCA returned no issuing CA certificate');
    const [ours] = await issuedFor(spki);
    expect(await recorded(ours!.serialNo)).not.toBeNull();
    expect(pca.signs).toBe(1);
  });
  it("a certificate for the same key issued before the attempt (a key reused from an earlier order) is not this attempt's", async () => {
    const { order, spki, job: j } = await processingOrder();
    const csrPem = toPem('CERTIFICATE REQUEST', (await store.orders.getCsr(order.id))!);
    const now = clock.nowMs();
    clock.set(now - 3_600_000);
    const earlier = await client.sign(csrPem);
    clock.set(now);
    pca.failNextSign = new PcaError('timeout', 'PCA POST timed out (test)');
    await expect(job.run(j)).rejects.toThrow(/PCA sign failed/);

    await job.run(j);
    expect(pca.signs).toBe(2);
    const done = (await store.orders.get(order.id))!;
    expect(done.status).toBe('valid');
    const attached = (await store.certificates.get(done.certificateId!))!;
    expect(attached.pcaSerial).not.toBe(earlier.serialNo);
    expect((await issuedFor(spki)).map((c) => c.serialNo).sort()).toEqual([earlier.serialNo, attached.pcaSerial].sort());
    expect(await recorded(earlier.serialNo)).toBeNull();
  });
});
