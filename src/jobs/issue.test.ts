import { mkdtempSync, rmSync } from 'node:fs';
import { X509Certificate, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '../acme/types.js';
import { ValidityPolicy } from '../acme/validity.js';
import { NcpPcaClient } from '../pca/ncp-client.js';
import { startPcaSimulator, type RunningSimulator } from '../pca/simulator/index.js';
import { makeCsr } from '../pca/make-csr.js';
import type { PcaCertPage, PcaClient } from '../pca/types.js';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { cryptoRandom } from '../platform/random.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Job, Store } from '../store/types.js';
import { IssuanceJob } from './issue.js';

// IssuanceJob against the real PCA simulator (in process, on loopback) and a real SQLite store:
// reconciliation when a sign answer is lost, a crash in the middle of adopting, a PCA whose
// certificate list runs newest first, and a deadline that passes while the outcome is unknown.

const id = () => randomBytes(9).toString('base64url');

/** Delegates to the real client; counts sign calls; can reverse the list order or fail list calls. */
class ProbePca implements PcaClient {
  signs = 0;
  newestFirst = false;
  listDown = false;
  constructor(private readonly inner: PcaClient) {}
  sign(...a: Parameters<PcaClient['sign']>) {
    this.signs++;
    return this.inner.sign(...a);
  }
  chain() {
    return this.inner.chain();
  }
  revoke(s: string) {
    return this.inner.revoke(s);
  }
  getCert(s: string) {
    return this.inner.getCert(s);
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
  async function processingOrder(deadlineMs = 600_000): Promise<{ order: Order; spki: string; job: Job }> {
    const now = clock.now();
    const { account } = await store.accounts.createOrGet({
      id: id(),
      directory: 'default',
      jwk: { kty: 'EC', crv: 'P-256', x: id(), y: 'y' },
      thumbprint: id(),
      contact: [],
      termsOfServiceAgreed: true,
      eabKeyId: null,
      now,
    });
    const challengeId = id();
    const order = await store.orders.createWithAuthorizations({
      id: id(),
      directory: 'default',
      accountId: account.id,
      identifiers: [{ type: 'ip', value: '127.0.0.1' }],
      notBefore: null,
      notAfter: null,
      profile: null,
      replaces: null,
      replacesCertificateId: null,
      expires: new Date(now.getTime() + 86_400_000),
      now,
      authorizations: [
        { id: id(), identifier: { type: 'ip', value: '127.0.0.1' }, wildcard: false, expires: new Date(now.getTime() + 86_400_000), challenges: [{ id: challengeId, type: 'http-01', token: id() }] },
      ],
    });
    expect(await store.challenges.start(challengeId, { id: id(), runAt: now.getTime(), deadlineAt: now.getTime() + 60_000 }, now)).toBe(true);
    expect(await store.challenges.recordValidation({ challengeId, valid: true, error: null, record: {}, now })).toBe(true);
    await store.jobs.claimDue('validator', now.getTime(), 60_000, 10).then((js) => Promise.all(js.map((j) => store.jobs.finish(j.id, 'done', null, now.getTime()))));
    const csr = await makeCsr(['127.0.0.1'], { commonName: null });
    const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    expect(await store.orders.markProcessing(order.id, der, { id: id(), runAt: now.getTime(), deadlineAt: now.getTime() + deadlineMs }, now)).toBe(true);
    const [claimed] = await store.jobs.claimDue('test', now.getTime(), 60_000, 1);
    return { order: (await store.orders.get(order.id))!, spki: csr.spkiSha256, job: claimed! };
  }

  const issuedFor = async (spki: string) => {
    const res = await fetch(`${sim.url}/_simulator/issued`);
    return ((await res.json()) as { serialNo: string; spkiSha256: string }[]).filter((c) => c.spkiSha256 === spki);
  };

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
});
