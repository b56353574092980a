import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultConfig, FaultKind, FiredFaults } from '../../src/pca/simulator/faults.js';
import { AcmeTestClient, runOrder, type OrderOutcome } from './chaos-support/acme.js';
import { describeClientErrors } from './chaos-support/client-errors.js';
import { chainProblem, readGatewayDb, startHttp01Server, type Http01Server } from './chaos-support/checks.js';
import { driveFaults, kindsAsked } from './chaos-support/fault-driver.js';
import { ChaosGateway } from './chaos-support/gateway-process.js';
import { checkRun, type RunSummary } from './chaos-support/invariants.js';
import { journalSerials, waitUntilQuiet } from './chaos-support/settle.js';

// Issue 4 chaos test: many concurrent orders while the PCA simulator injects ~30% mixed faults
// (500/502/503/429, timeouts against a short pca.timeoutMs, malformed answers, certificates for the
// wrong key, connections dropped after signing, latency), rotated every 400 ms. Every order must end
// valid or invalid with a problem on its own (the issuance deadline ends what the PCA cannot serve; no
// client has to give up, and how fast is for the benchmark), no valid order may carry a wrong certificate,
// and every certificate the simulator issued must be known to the gateway. The fault rotation must
// really be applied (a failed PUT fails the run) and the simulator's own count of injected faults
// must agree with what the gateway saw. Because which request a random fault hits is chance, each
// fault kind also gets a deterministic case: injected once, then the PCA is healthy again.

const ORDERS = 30;
const PCA_TIMEOUT_MS = 1_500;

interface ChaosResult {
  summary: RunSummary & Record<string, unknown>;
  violations: string[];
  outcomes: OrderOutcome[];
  quiet: { liveJobs: number; processingOrders: number };
  /** The kinds the fault rotation asked for, and what the simulator says it injected. */
  asked: ReadonlySet<FaultKind>;
  fired: FiredFaults;
  /** Log lines of the gateway rejecting a certificate the PCA returned. */
  wrongCertificatesRejected: number;
  /** Every error an ACME client retried through (none is expected: the PCA fails, the gateway must not). */
  clientErrors: string[];
}

/** How many times the simulator injected `kind`, over all endpoints. */
const firedCount = (fired: FiredFaults, kind: FaultKind): number => Object.values(fired[kind] ?? {}).reduce((a, b) => a + b, 0);

const ALL_KINDS: FaultKind[] = ['latency', 'error', 'timeout', 'malformed', 'wrongKey', 'dropAfterSign'];

describe('chaos: concurrent orders against a PCA that fails 30% of the time', () => {
  let http01: Http01Server;
  const gateways: ChaosGateway[] = [];
  let current: ChaosGateway | undefined;

  beforeAll(async () => {
    http01 = await startHttp01Server();
  });

  afterAll(async () => {
    for (const gw of gateways) {
      if (gw.isRunning()) await gw.kill('SIGTERM');
      gw.cleanup();
    }
    await http01?.close();
  });

  beforeEach((ctx) => {
    ctx.onTestFailed(() => console.error(current?.outputs(60_000)));
  });

  async function runChaos(label: string, issuanceDeadlineMs: number): Promise<ChaosResult> {
    const gw = await ChaosGateway.create({
      validationHttpPort: http01.port,
      pca: { timeoutMs: PCA_TIMEOUT_MS, issuanceDeadlineMs },
      logLevel: 'info',
      jobConcurrency: 32,
    });
    gateways.push(gw);
    current = gw;
    await gw.start();

    const started = Date.now();
    // A phase the simulator did not take as asked makes faults.stop() reject, and the run fail.
    const faults = driveFaults((c) => gw.setFaults(c), 400, 600);
    let outcomes: OrderOutcome[];
    const clients: AcmeTestClient[] = [];
    try {
      outcomes = await Promise.all(
        Array.from({ length: ORDERS }, async (_, i) => {
          const deadline = Date.now() + issuanceDeadlineMs + 40_000;
          const client = new AcmeTestClient(gw.directoryUrl);
          clients.push(client);
          await client.register(deadline);
          return runOrder(client, http01, `order#${i}`, deadline);
        }),
      );
    } finally {
      await faults.stop();
    }
    const runMs = Date.now() - started;

    // Background work ends on its own once the PCA is healthy again: no job or order is left live
    // (follow-up jobs that look for certificates of orders that ended with an unknown outcome included).
    const quiet = await waitUntilQuiet(gw.sqlitePath, 30_000);
    const issued = await gw.issued();
    const fired = await gw.firedFaults();
    const log = gw.currentOutput();
    if (process.env.ACME_E2E_KEEP_TMP === '1') fs.writeFileSync(path.join(gw.dir, 'gateway.log'), log);
    await gw.kill('SIGTERM');
    const db = readGatewayDb(gw.sqlitePath);
    // The admin list and the simulator's journal agree (nothing was signed after we listed).
    expect(journalSerials(gw.simulatorDir).sort()).toEqual(issued.map((i) => i.serialNo).sort());

    const { summary, violations } = checkRun(outcomes, issued, db, gw.rootPem());
    // Reported, not asserted: speed is for the benchmark (bench/), not for a timed test.
    const slowestOrderMs = Math.max(...outcomes.map((o) => o.ms));
    const slowestIssuanceMs = Math.max(...outcomes.map((o) => o.issuanceMs ?? 0));
    const slowest = outcomes.find((o) => o.issuanceMs === slowestIssuanceMs);
    const count = (re: RegExp) => (log.match(re) ?? []).length;
    const stats = {
      runMs,
      slowestOrderMs,
      slowestIssuanceMs,
      slowestOrder: slowest?.orderId,
      quietAfterMs: quiet.waitedMs,
      faultPhases: faults.phases,
      faultsAsked: [...faults.asked],
      faultsFired: fired,
      reconciliationsAdopted: count(/reconciliation: adopting/g),
      reconciledNothing: count(/reconciliation: the PCA issued nothing/g),
      recordedAfterOrderEnded: count(/issued for an order that had already ended/g),
      wrongCertificatesRejected: count(/the PCA returned a wrong certificate/g),
      gaveUp: count(/issuance gave up/g),
      breakerOpened: count(/pca circuit breaker opened/g),
      clientErrors: describeClientErrors(
        clients.flatMap((c) => c.errors),
        started,
      ),
      ...summary,
    };
    console.log(`chaos summary (${label}): ${JSON.stringify(stats, null, 2)}`);
    return { summary: stats, violations, outcomes, quiet, asked: faults.asked, fired, wrongCertificatesRejected: stats.wrongCertificatesRejected, clientErrors: stats.clientErrors };
  }

  /** What every random run must show about its faults: applied, injected, and seen by the gateway. */
  function expectFaultsInjected(r: ChaosResult): void {
    // PCA faults are the gateway's to absorb: no client saw a 5xx, a badNonce or a connection error.
    expect(r.clientErrors).toEqual([]);
    // The rotation asked for every kind (phases alternate between the two families of faults).
    expect([...r.asked].sort()).toEqual([...ALL_KINDS].sort());
    // The simulator injected faults; latency and errors hit so many requests that none is a fluke.
    expect(firedCount(r.fired, 'latency')).toBeGreaterThan(0);
    expect(firedCount(r.fired, 'error')).toBeGreaterThan(0);
    // Faults come only from the endpoints the rotation names, and sign-only ones only from sign.
    for (const kind of ALL_KINDS) {
      for (const endpoint of Object.keys(r.fired[kind] ?? {})) expect(['sign', 'list', 'get', 'chain']).toContain(endpoint);
    }
    expect(Object.keys(r.fired.wrongKey ?? {}).filter((e) => e !== 'sign')).toEqual([]);
    expect(Object.keys(r.fired.dropAfterSign ?? {}).filter((e) => e !== 'sign')).toEqual([]);
    // Every certificate for a wrong key the simulator issued was refused by the gateway, none slipped
    // through or went unnoticed: the three counts agree.
    expect(r.summary.wrongKeyCerts).toBe(firedCount(r.fired, 'wrongKey'));
    expect(r.wrongCertificatesRejected).toBe(firedCount(r.fired, 'wrongKey'));
  }

  it(`${ORDERS} concurrent orders, issuance deadline 20 s: each ends valid or invalid with a problem; no wrong certificate; no PCA certificate lost`, async () => {
    const r = await runChaos('deadline 20 s', 20_000);
    expect(r.violations).toEqual([]);
    expect(r.quiet).toMatchObject({ liveJobs: 0, processingOrders: 0 });
    expect(r.outcomes.filter((o) => o.note)).toEqual([]);
    expect(r.summary.finalized).toBe(ORDERS);
    expect(r.summary.valid + r.summary.invalid).toBe(ORDERS);
    // The faults really happened and were survived (a run where everything failed proves little).
    expectFaultsInjected(r);
    expect(r.summary.valid).toBeGreaterThan(ORDERS / 3);
    expect((r.summary.reconciliationsAdopted as number) + (r.summary.wrongCertificatesRejected as number)).toBeGreaterThan(0);
  });

  it(`${ORDERS} concurrent orders, issuance deadline 3 s: orders that run out of time end invalid, and what the PCA issued for them is still recorded`, async () => {
    const r = await runChaos('deadline 3 s', 3_000);
    expect(r.violations).toEqual([]);
    expect(r.quiet).toMatchObject({ liveJobs: 0, processingOrders: 0 });
    expect(r.outcomes.filter((o) => o.note)).toEqual([]);
    expect(r.summary.valid + r.summary.invalid).toBe(ORDERS);
    expectFaultsInjected(r);
  });

  describe('each fault kind, deterministically: injected once on sign, then the PCA is healthy', () => {
    let gw: ChaosGateway;

    beforeAll(async () => {
      gw = await ChaosGateway.create({ validationHttpPort: http01.port, pca: { timeoutMs: PCA_TIMEOUT_MS, issuanceDeadlineMs: 20_000 }, logLevel: 'info' });
      gateways.push(gw);
      await gw.start();
    });

    beforeEach(() => {
      current = gw;
    });

    /** One order from a fresh account, to the end (valid, invalid, or the client's note). */
    async function order(g: ChaosGateway, label: string): Promise<{ client: AcmeTestClient; outcome: OrderOutcome }> {
      const deadline = Date.now() + 60_000;
      const client = new AcmeTestClient(g.directoryUrl);
      await client.register(deadline);
      return { client, outcome: await runOrder(client, http01, label, deadline, 100) };
    }

    /** Resolves once the simulator has injected `kind` more often than `before`; rejects if `done` settles first. */
    async function untilFired(kind: FaultKind, before: number, done: Promise<unknown>): Promise<void> {
      let settled = false;
      void done.finally(() => (settled = true));
      while (firedCount(await gw.firedFaults(), kind) <= before) {
        if (settled) throw new Error(`the order ended without the simulator injecting ${kind}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    it.each<[FaultKind, FaultConfig]>([
      ['latency', { latencyMs: 300 }],
      ['error', { errorRate: 1, errorStatus: 503, errorCode: 'SERVICE_UNAVAILABLE' }],
      ['timeout', { timeoutRate: 1 }],
      ['malformed', { malformedRate: 1 }],
      ['dropAfterSign', { dropAfterSignRate: 1 }],
    ])('%s: injected, survived; the order is valid with a certificate for its key, signed exactly once', async (kind, config) => {
      expect(kindsAsked(config)).toEqual([kind]);
      const before = firedCount(await gw.firedFaults(), kind);
      await gw.setFaults({ ...config, endpoints: ['sign'] });
      const run = order(gw, kind);
      try {
        await untilFired(kind, before, run);
      } finally {
        await gw.setFaults({});
      }
      const { outcome } = await run;
      expect(outcome.note).toBeUndefined();
      expect(outcome.status).toBe('valid');
      expect(chainProblem(outcome.certPem!, outcome.spkiSha256, gw.rootPem())).toBeNull();
      // One certificate for the key: a lost or garbled answer is reconciled, never signed a second time.
      expect((await gw.issued()).filter((i) => i.spkiSha256 === outcome.spkiSha256)).toHaveLength(1);
    });

    it('wrongKey: the PCA certifies another key; the order ends invalid with a problem, and that certificate is never served', async () => {
      const before = firedCount(await gw.firedFaults(), 'wrongKey');
      const issuedBefore = new Set((await gw.issued()).map((i) => i.serialNo));
      await gw.setFaults({ wrongKeyRate: 1, endpoints: ['sign'] });
      let result: Awaited<ReturnType<typeof order>>;
      try {
        result = await order(gw, 'wrongKey');
      } finally {
        await gw.setFaults({});
      }
      const { client, outcome } = result;
      expect(firedCount(await gw.firedFaults(), 'wrongKey')).toBe(before + 1);
      expect(outcome.note).toBeUndefined();
      expect(outcome.status).toBe('invalid');
      expect(outcome.error?.type).toBe('urn:ietf:params:acme:error:serverInternal');
      expect(outcome.error?.detail).toMatch(/unusable certificate.*public key/);
      expect(outcome.certPem).toBeUndefined();

      // The simulator did issue one certificate, for a key that is not the CSR's.
      const signed = (await gw.issued()).filter((i) => !issuedBefore.has(i.serialNo));
      expect(signed).toHaveLength(1);
      expect(signed[0]!.spkiSha256).not.toBe(outcome.spkiSha256);

      // The order carries no certificate URL, and the one the gateway kept on record (the PCA did
      // issue it) belongs to no account: asking for it by id is a 404.
      const orderNow = await client.post(outcome.orderUrl!, null, Date.now() + 10_000);
      expect(orderNow.body).toMatchObject({ status: 'invalid' });
      expect(orderNow.body).not.toHaveProperty('certificate');
      const kept = readGatewayDb(gw.sqlitePath).certificates.filter((c) => c.pcaSerial.toUpperCase() === signed[0]!.serialNo.toUpperCase());
      expect(kept).toHaveLength(1);
      expect(kept[0]).toMatchObject({ orderId: outcome.orderId, spkiSha256: signed[0]!.spkiSha256 });
      const download = await client.post(gw.directoryUrl.replace(/\/directory$/, `/cert/${kept[0]!.id}`), null, Date.now() + 10_000);
      expect(download.status).toBe(404);
      expect(download.text).not.toContain('BEGIN CERTIFICATE');
    });

    it('an order the PCA never serves ends invalid with a problem once its issuance deadline passes, and nothing is left running', async () => {
      const short = await ChaosGateway.create({ validationHttpPort: http01.port, pca: { timeoutMs: PCA_TIMEOUT_MS, issuanceDeadlineMs: 3_000 }, logLevel: 'info' });
      gateways.push(short);
      current = short;
      await short.start();
      await short.setFaults({ errorRate: 1, errorStatus: 503, errorCode: 'SERVICE_UNAVAILABLE', endpoints: ['sign'] });
      const { outcome } = await order(short, 'never served');
      expect(outcome.note).toBeUndefined();
      expect(outcome.status).toBe('invalid');
      expect(outcome.error?.type).toBe('urn:ietf:params:acme:error:serverInternal');
      expect(outcome.error?.detail).toMatch(/Private CA/);
      // It was the PCA refusing, more than once (the job retried until the deadline), and nothing was issued.
      expect(firedCount(await short.firedFaults(), 'error')).toBeGreaterThan(1);
      expect((await short.issued()).filter((i) => i.spkiSha256 === outcome.spkiSha256)).toEqual([]);
      expect(short.currentOutput()).toMatch(/issuance gave up/);
      expect(await waitUntilQuiet(short.sqlitePath, 10_000)).toMatchObject({ liveJobs: 0, processingOrders: 0 });
      await short.kill('SIGTERM');
    });
  });
});
