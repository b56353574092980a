import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmeTestClient, runOrder } from './chaos-support/acme.js';
import { chainProblem, colonSerial, readGatewayDb, splitPemCerts, startHttp01Server, type Http01Server } from './chaos-support/checks.js';
import { ChaosGateway, sleep } from './chaos-support/gateway-process.js';

// Issue 4, "a dropped connection after signing is reconciled without a second signing": the PCA
// simulator signs, persists the certificate, then drops the connection, on EVERY sign call for the
// whole test. The only way the order can end valid is by finding that certificate on the PCA (list +
// get) and adopting it; any second sign call would leave a second certificate in the simulator's list.

describe('reconciliation of sign calls whose answer was lost', () => {
  let gw: ChaosGateway;
  let http01: Http01Server;

  beforeAll(async () => {
    http01 = await startHttp01Server();
    gw = await ChaosGateway.create({ validationHttpPort: http01.port, pca: { timeoutMs: 3_000, issuanceDeadlineMs: 20_000, breakerCooldownMs: 2_000 }, logLevel: 'info' });
    await gw.start();
  });

  afterAll(async () => {
    await gw?.kill('SIGTERM');
    await http01?.close();
    gw?.cleanup();
  });

  beforeEach((ctx) => {
    ctx.onTestFailed(() => console.error(gw.outputs(40_000)));
  });

  for (const fault of ['dropAfterSignRate', 'malformedRate'] as const) {
    it(`${fault}=1 on sign: the order ends valid with the one certificate the PCA issued, signed once`, async () => {
      const before = await gw.issued();
      await gw.setFaults({ [fault]: 1, endpoints: ['sign'] });
      const client = new AcmeTestClient(gw.directoryUrl);
      const deadline = Date.now() + 40_000;
      await client.register(deadline);
      const outcome = await runOrder(client, http01, fault, deadline);
      await gw.setFaults({});

      expect(outcome.note).toBeUndefined();
      expect(outcome.status).toBe('valid');
      expect(chainProblem(outcome.certPem!, outcome.spkiSha256, gw.rootPem())).toBeNull();

      // The simulator issued exactly one certificate during this test, for the CSR's key, and it is
      // the one the client downloaded.
      const fresh = (await gw.issued()).filter((c) => !before.some((b) => b.serialNo === c.serialNo));
      expect(fresh).toHaveLength(1);
      expect(fresh[0]!.spkiSha256).toBe(outcome.spkiSha256);
      const leaf = new X509Certificate(splitPemCerts(outcome.certPem!)[0]!);
      expect(fresh[0]!.serialNo).toBe(colonSerial(leaf));

      // The gateway saw the sign fail with an unknown outcome and reconciled instead of signing again.
      const log = gw.currentOutput();
      expect(log).toMatch(/reconciliation: adopting the certificate/);
      const db = readGatewayDb(gw.sqlitePath);
      const attempts = db.attempts.filter((a) => a.orderId === outcome.orderId);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.outcome).toBe('issued');
      expect(attempts[0]!.pcaSerial).toBe(fresh[0]!.serialNo);
    });
  }

  it('timeoutRate=1 on sign (nothing issued): reconciliation adopts nothing and the order ends invalid with a problem at the deadline', async () => {
    const before = await gw.issued();
    await gw.setFaults({ timeoutRate: 1, endpoints: ['sign'] });
    const client = new AcmeTestClient(gw.directoryUrl);
    const deadline = Date.now() + 60_000;
    await client.register(deadline);
    const outcome = await runOrder(client, http01, 'timeout', deadline);
    await gw.setFaults({});

    expect(outcome.note).toBeUndefined();
    expect(outcome.status).toBe('invalid');
    expect(outcome.error?.type).toBe('urn:ietf:params:acme:error:serverInternal');
    expect(outcome.error?.detail).toMatch(/Private CA/);
    const fresh = (await gw.issued()).filter((c) => !before.some((b) => b.serialNo === c.serialNo));
    expect(fresh).toHaveLength(0);
    const db = readGatewayDb(gw.sqlitePath);
    // More than one sign attempt was made (each reconciled to "not issued" before the next).
    expect(db.attempts.filter((a) => a.orderId === outcome.orderId).length).toBeGreaterThan(1);
  });

  it('the deadline passes while the outcome is unknown and the PCA list is down: the order ends invalid, and the certificate is recorded once the PCA answers again', async () => {
    const before = await gw.issued();
    await gw.setFaults({ dropAfterSignRate: 1, endpoints: ['sign'] });
    const client = new AcmeTestClient(gw.directoryUrl);
    const deadline = Date.now() + 60_000;
    await client.register(deadline);
    const ordering = runOrder(client, http01, 'unknown-at-deadline', deadline);
    // As soon as the PCA has signed (and dropped the answer), take its list and get endpoints down,
    // so reconciliation cannot run before the issuance deadline.
    let signed: string | undefined;
    while (!signed && Date.now() < deadline) {
      signed = (await gw.issued()).find((c) => !before.some((b) => b.serialNo === c.serialNo))?.serialNo;
      if (!signed) await sleep(10);
    }
    await gw.setFaults({ errorRate: 1, errorStatus: 503, errorCode: 'SERVICE_UNAVAILABLE', endpoints: ['list', 'get'] });
    const outcome = await ordering;
    expect(signed).toBeDefined();
    expect(outcome.note).toBeUndefined();
    expect(outcome.status).toBe('invalid');
    expect(outcome.error?.detail).toMatch(/Private CA/);

    // The PCA recovers: the certificate it issued for the order is found and recorded (not lost).
    await gw.setFaults({});
    let recorded: ReturnType<typeof readGatewayDb>['certificates'][number] | undefined;
    const waitUntil = Date.now() + 90_000;
    while (!recorded && Date.now() < waitUntil) {
      recorded = readGatewayDb(gw.sqlitePath).certificates.find((c) => c.pcaSerial === signed);
      if (!recorded) await sleep(250);
    }
    expect(recorded?.orderId).toBe(outcome.orderId);
    const db = readGatewayDb(gw.sqlitePath);
    const order = db.orders.find((o) => o.id === outcome.orderId)!;
    expect(order.status).toBe('invalid');
    expect(order.certificateId).toBeNull();
    expect(db.attempts.filter((a) => a.orderId === outcome.orderId).map((a) => a.outcome)).toEqual(['issued']);
    const fresh = (await gw.issued()).filter((c) => !before.some((b) => b.serialNo === c.serialNo));
    expect(fresh.map((c) => c.serialNo)).toEqual([signed]);
  }, 200_000);
});
