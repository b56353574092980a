import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidityPolicy } from '../acme/validity.js';
import { issuedCertificate } from '../pca/issued.js';
import { makeCsr } from '../pca/make-csr.js';
import { NcpPcaClient } from '../pca/ncp-client.js';
import { startPcaSimulator, type RunningSimulator, type SimulatorBehaviour } from '../pca/simulator/index.js';
import type { PcaClient } from '../pca/types.js';
import { ManualClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { cryptoRandom, randomId } from '../platform/random.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/types.js';
import { processingOrder } from '../../test/support/issuance-fixtures.js';
import { IssuanceJob } from './issue.js';
import { PcaAudit } from './pca-audit.js';
import { PcaCertificateSearch } from './pca-search.js';

// Issue 10: the search of the PCA's list proves its paging and scales. Reconciliation and the audit
// against every paging behaviour the simulator can show (honoured or ignored pageNo, oldest- or
// newest-first), with the certificate to find off page 1; and a restart with N unsettled orders
// costing about the list pages plus N PCA calls, counted.

type Op = 'sign' | 'chain' | 'revoke' | 'getCert' | 'listCerts' | 'crl' | 'getCa' | 'rotateCrl';

/** The real client, counting its calls per operation. */
function counting(inner: PcaClient): PcaClient & { calls: Record<Op, number>; reset(): void } {
  const calls = { sign: 0, chain: 0, revoke: 0, getCert: 0, listCerts: 0, crl: 0, getCa: 0, rotateCrl: 0 };
  const c = <T>(op: Op, f: () => Promise<T>) => {
    calls[op]++;
    return f();
  };
  return {
    calls,
    reset: () => Object.keys(calls).forEach((k) => (calls[k as Op] = 0)),
    sign: (csr, o) => c('sign', () => inner.sign(csr, o)),
    chain: () => c('chain', () => inner.chain()),
    revoke: (s) => c('revoke', () => inner.revoke(s)),
    getCert: (s) => c('getCert', () => inner.getCert(s)),
    listCerts: (p) => c('listCerts', () => inner.listCerts(p)),
    crl: () => c('crl', () => inner.crl()),
    getCa: () => c('getCa', () => inner.getCa()),
    rotateCrl: () => c('rotateCrl', () => inner.rotateCrl()),
  };
}

describe('the PCA search: paging that proves itself, and a restart that costs the list plus N', () => {
  let dir: string;
  let clock: ManualClock;
  let sim: RunningSimulator;
  let client: NcpPcaClient;
  let pca: ReturnType<typeof counting>;
  let store: Store;
  let anchors: X509Certificate[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pca-search-'));
    clock = new ManualClock(Date.now());
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey: 'ak', secretKey: 'sk', clock, behaviour: { keyRule: 'any' } });
    client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: 'ak', secretKey: 'sk', clock, timeoutMs: 5_000 });
    pca = counting(client);
    store = openSqliteStore({ path: join(dir, 'gw.sqlite') });
    anchors = [new X509Certificate(sim.rootPem)];
  });

  afterEach(async () => {
    client.close();
    await sim.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A gateway process: its own search (empty memory) and issuance job over the one store. */
  function process() {
    const search = new PcaCertificateSearch({ pca, ca: sim.caTag, store, clock });
    const job = new IssuanceJob({ store, pca, search, validity: new ValidityPolicy({ defaultPeriodDays: 30, profiles: {} }), trustAnchors: () => anchors, clock, random: cryptoRandom, logger: silentLogger() });
    const audit = new PcaAudit({ store, search, clock, random: cryptoRandom, logger: silentLogger(), directory: 'default', sharedWatermark: true });
    return { search, job, audit };
  }

  /** `n` certificates for another key, one clock second apart (the list's order is read off notBefore). */
  async function signForeign(n: number): Promise<void> {
    const other = await makeCsr(['127.0.0.1'], { commonName: null });
    for (let i = 0; i < n; i++) {
      clock.advance(1_000);
      await client.sign(other.csrPem);
    }
  }

  /** An order whose sign call the PCA acted on but whose answer was lost. */
  async function droppedSign(job: IssuanceJob) {
    const o = await processingOrder(store, clock);
    sim.faults.set({ dropAfterSignRate: 1 });
    await expect(job.run(o.job)).rejects.toThrow(/PCA sign failed/);
    sim.faults.set({});
    return o;
  }

  const behaviours: Array<[Pick<SimulatorBehaviour, 'listPaging' | 'listOrder'>, 'found' | 'incomplete']> = [
    [{ listPaging: 'honoured', listOrder: 'oldest-first' }, 'found'],
    [{ listPaging: 'honoured', listOrder: 'newest-first' }, 'found'],
    [{ listPaging: 'ignored', listOrder: 'oldest-first' }, 'incomplete'],
    [{ listPaging: 'ignored', listOrder: 'newest-first' }, 'incomplete'],
  ];

  it.each(behaviours)('reconciliation after a dropped sign, the certificate off page 1, list %j: %s, and never a second sign', async (behaviour, expected) => {
    // 150 certificates an hour ago, ours, then 120 more for other keys: off page 1 both ways round.
    const now = clock.nowMs();
    clock.set(now - 3_600_000);
    await signForeign(150);
    clock.set(now);
    const { job } = process();
    const o = await droppedSign(job);
    await signForeign(120);
    sim.faults.set({ behaviour });
    pca.reset();

    const run = process().job.run(o.job);
    if (expected === 'found') {
      await run;
      expect((await store.orders.get(o.order.id))!.status).toBe('valid');
    } else {
      await expect(run).rejects.toThrow(/search incomplete: .*(does not honour pageNo|seem to ignore pageNo|ignore pageNo)/);
      expect((await store.orders.get(o.order.id))!.status).toBe('processing');
      expect((await store.issuance.attemptsForOrder(o.order.id)).map((a) => a.outcome)).toEqual(['unknown']);
    }
    expect(pca.calls.sign).toBe(0);
  });

  it('ignored pageNo, newest-first, and the window inside page 1: the certificate is found (page 1 is all it takes)', async () => {
    const now = clock.nowMs();
    clock.set(now - 3_600_000);
    await signForeign(150);
    clock.set(now);
    const { job } = process();
    const o = await droppedSign(job);
    sim.faults.set({ behaviour: { listPaging: 'ignored', listOrder: 'newest-first' } });
    await process().job.run(o.job);
    expect((await store.orders.get(o.order.id))!.status).toBe('valid');
  });

  it('ignored pageNo at the deadline: the order ends with the reason, the attempt stays unknown, and a follow-up job keeps looking; no second sign', async () => {
    const now = clock.nowMs();
    clock.set(now - 3_600_000);
    await signForeign(150);
    clock.set(now);
    const { job } = process();
    const o = await droppedSign(job);
    sim.faults.set({ behaviour: { listPaging: 'ignored', listOrder: 'oldest-first' } });
    pca.reset();
    const later = process().job;
    await later.giveUp(o.job, new Error('deadline passed'));
    const ended = (await store.orders.get(o.order.id))!;
    expect(ended.status).toBe('invalid');
    expect((await store.issuance.attemptsForOrder(o.order.id)).map((a) => a.outcome)).toEqual(['unknown']);
    expect(pca.calls.sign).toBe(0);
    // Once the PCA pages properly, the follow-up job records what it had issued.
    sim.faults.set({});
    clock.advance(10_000);
    const [followUp] = await store.jobs.claimDue('test', clock.nowMs(), 60_000, 5);
    await later.run(followUp!);
    expect((await store.issuance.attemptsForOrder(o.order.id)).map((a) => a.outcome)).toEqual(['issued']);
    expect(pca.calls.sign).toBe(0);
  });

  it.each(behaviours)('the audit, list %j: records the late certificate, or says it could not look', async (behaviour, expected) => {
    const now = clock.nowMs();
    clock.set(now - 3_600_000);
    await signForeign(150);
    clock.set(now);
    // A key the gateway asked about, signed by the PCA without the gateway hearing: the audit's case.
    // The sign call began 6 minutes ago, past the audit's in-flight window (an issuance job still
    // about to store it is left alone).
    const o = await processingOrder(store, clock);
    await store.issuance.recordAttempt({ id: randomId(cryptoRandom), orderId: o.order.id, spkiSha256: o.spki, startedAt: clock.nowMs() - 6 * 60_000 });
    const late = await client.sign(o.csrPem);
    await signForeign(120);
    await store.settings.set('pca_audit_watermark', String(now - 120_000));
    sim.faults.set({ behaviour });
    const result = await process().audit.run();
    const recorded = await store.certificates.getBySerial(new X509Certificate(late.leafPem).serialNumber.toLowerCase().replace(/^(00)+/, ''));
    if (expected === 'found') {
      expect(result).toMatchObject({ complete: true, recorded: 1 });
      expect(recorded?.orderId).toBe(o.order.id);
    } else {
      expect(result).toMatchObject({ complete: false, recorded: 0 });
      expect(recorded).toBeNull();
      expect(await store.settings.get('pca_audit_watermark')).toBe(String(now - 120_000));
    }
  });

  it('a restart with N unsettled orders costs about the list pages plus N PCA calls; what was learned outlives the process', async () => {
    const N = 16;
    const FOREIGN = 30;
    // 250 recent certificates the gateway holds (issued through it), 30 for keys it never asked
    // for, and 16 orders whose sign answers were lost: all inside the reconciliation window.
    const held = await makeCsr(['127.0.0.1'], { commonName: null });
    for (let i = 0; i < 250; i++) {
      clock.advance(200);
      const r = await client.sign(held.csrPem);
      await store.certificates.recordOrphan(issuedCertificate(r.leafPem, r.chainPems, r.serialNo, randomId(cryptoRandom))!, 'default', null, clock.now());
    }
    await signForeign(FOREIGN);
    const before = process();
    const lost = [];
    for (let i = 0; i < N; i++) lost.push(await droppedSign(before.job));
    const pages = Math.ceil((250 + FOREIGN + N) / 100);

    // The restart: a new process, every unsettled order's job run at once (as the runner does).
    pca.reset();
    const after = process();
    await Promise.all(lost.map((o) => after.job.run(o.job)));
    for (const o of lost) expect((await store.orders.get(o.order.id))!.status).toBe('valid');
    const first = { ...pca.calls };
    console.log(`restart with ${N} unsettled orders, ${250 + FOREIGN + N} certificates (${pages} pages): ${JSON.stringify(first)}`);
    expect(first.sign).toBe(0);
    expect(first.listCerts).toBeLessThanOrEqual(pages);
    // Each lost certificate once, and the 30 nobody had seen once; the 250 held ones never.
    expect(first.getCert).toBeLessThanOrEqual(N + FOREIGN);

    // Another restart with 4 more unsettled orders: the 30 foreign certificates are known now.
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await droppedSign(after.job));
    pca.reset();
    const again = process();
    await Promise.all(more.map((o) => again.job.run(o.job)));
    for (const o of more) expect((await store.orders.get(o.order.id))!.status).toBe('valid');
    console.log(`restart with 4 unsettled orders: ${JSON.stringify(pca.calls)}`);
    expect(pca.calls.getCert).toBeLessThanOrEqual(4);
    expect(pca.calls.listCerts).toBeLessThanOrEqual(Math.ceil((250 + FOREIGN + N + 4) / 100));
    expect(pca.calls.sign).toBe(0);
  });
});
