import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { expectProblem } from './expect.js';

// Issue 10, CA-aware issuance: each directory reads its CA (Get CA) at start and then periodically.
// The CA's key rule refuses, at finalize, a CSR key it cannot sign (badCSR listing what it takes);
// a client's notAfter past the CA's end is malformed, naming it; the period asked never outlives
// the CA; a CA that is not ACTIVE makes /readyz not ready and issuance wait; meta.profiles says
// which keys a profile can have under the CA's rule. The simulator's behaviours (its CA's status,
// end and key rule; caChain as one string; a rate limit) are switched to show each.

const gateways: TestGateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.dispose();
});

const simCalls = async (t: TestGateway): Promise<Record<string, number>> => (await (await fetch(`${t.gw.simulator!.url}/_simulator/calls`)).json()) as Record<string, number>;
const directoryMeta = async (t: TestGateway): Promise<Record<string, unknown>> => ((await (await t.request('/directory')).json()) as { meta: Record<string, unknown> }).meta;

async function gateway(config: Record<string, Record<string, unknown>> = {}): Promise<TestGateway> {
  const t = await startTestGateway({ config });
  gateways.push(t);
  return t;
}

async function readyOrder(c: AcmeTestClient, name: string, extra: Record<string, unknown> = {}) {
  const created = await c.newOrder([name], extra);
  expect(created.status, created.text).toBe(201);
  await c.completeAuthorizations(created.body);
  const ready = await c.poll(created.location!, (b) => b.status === 'ready');
  expect(ready.body.status).toBe('ready');
  return { url: created.location!, finalize: ready.body.finalize as string };
}

async function issued(c: AcmeTestClient, orderUrl: string): Promise<X509Certificate> {
  const done = await c.poll(orderUrl, (b) => b.status === 'valid' || b.status === 'invalid', 15_000);
  expect(done.body.status, done.text).toBe('valid');
  const pem = (await c.download(done.body.certificate)).text;
  return new X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25));
}

describe('the CA key rule', () => {
  it('keyRule ca (an EC256 CA): a P-384 CSR is a badCSR listing the accepted key types, before anything is relayed; P-256 issues', async () => {
    const t = await gateway({ simulator: { behaviour: { keyRule: 'ca' } } });
    const signsBefore = (await simCalls(t)).sign ?? 0;
    const c = await AcmeTestClient.withAccount(t);
    const order = await readyOrder(c, 'p384.ca.test');
    const res = await c.finalize(order.finalize, ['p384.ca.test'], { keyType: 'P384' });
    expectProblem(res, 'badCSR', 400);
    expect(res.body.detail).toBe("key type ecdsa-p384 cannot be issued here: the Private CA's key is EC256 and it signs keys of its own type only (accepted: ecdsa-p256)");
    expect((await c.postAsGet(order.url)).body.status).toBe('ready');
    expect((await simCalls(t)).sign ?? 0).toBe(signsBefore);

    expect((await c.finalize(order.finalize, ['p384.ca.test'], { keyType: 'P256' })).status).toBe(200);
    await issued(c, order.url);
  });

  it('P-521 is issued where the CA allows it (keyRule any)', async () => {
    const t = await gateway();
    const c = await AcmeTestClient.withAccount(t);
    const order = await readyOrder(c, 'p521.ca.test');
    expect((await c.finalize(order.finalize, ['p521.ca.test'], { keyType: 'P521' })).status).toBe(200);
    const leaf = await issued(c, order.url);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
  });

  it('pca.keyTypes lists what the PCA signs: anything else is refused naming the list', async () => {
    const t = await gateway({ pca: { keyTypes: ['ecdsa-p256', 'rsa2048'] } });
    const c = await AcmeTestClient.withAccount(t);
    const order = await readyOrder(c, 'list.ca.test');
    const res = await c.finalize(order.finalize, ['list.ca.test'], { keyType: 'P521' });
    expectProblem(res, 'badCSR', 400);
    expect(res.body.detail).toBe('key type ecdsa-p521 cannot be issued here: the Private CA signs only these key types (accepted: ecdsa-p256, rsa2048)');
  });

  it("meta.profiles reflects the CA's key rule where it narrows a profile's keys", async () => {
    const profiles = { short: { description: 'Short-lived', period: 7 }, rsa: { description: 'RSA only', keyTypes: ['rsa2048'] }, ec: { description: 'EC', keyTypes: ['ecdsa-p256'] } };
    const strict = await gateway({ simulator: { behaviour: { keyRule: 'ca' } }, acme: { profiles } });
    expect((await directoryMeta(strict)).profiles).toEqual({
      short: 'Short-lived (keys: ecdsa-p256)',
      rsa: 'RSA only (no key type this Private CA signs)',
      ec: 'EC',
    });
    const lenient = await gateway({ acme: { profiles } });
    expect((await directoryMeta(lenient)).profiles).toEqual({ short: 'Short-lived', rsa: 'RSA only', ec: 'EC' });
  });
});

describe("the CA's end", () => {
  it('a CA ending in 20 days: a notAfter past it is malformed naming its end; the period asked is capped so the certificate ends before it', async () => {
    const t = await gateway({ simulator: { behaviour: { caExpiresInDays: 20 } } });
    const caEnd = t.gw.directories[0]!.ca.current()!.notAfter;
    expect(Math.abs(caEnd.getTime() - (Date.now() + 20 * 86_400_000))).toBeLessThan(60_000);
    const c = await AcmeTestClient.withAccount(t);
    const late = await c.newOrder(['end.ca.test'], { notAfter: new Date(Date.now() + 30 * 86_400_000).toISOString() });
    expectProblem(late, 'malformed', 400);
    expect(late.body.detail).toMatch(new RegExp(`^notAfter \\S+ is past the end of the Private CA's certificate \\(${caEnd.toISOString()}\\): a certificate cannot outlive the CA that signs it$`));

    // pca.period is 90 days; the CA has 20 left: the period sent is 19 days, and the PCA signs it.
    const order = await readyOrder(c, 'end.ca.test');
    expect((await c.finalize(order.finalize, ['end.ca.test'])).status).toBe(200);
    const leaf = await issued(c, order.url);
    expect(new Date(leaf.validTo).getTime()).toBeLessThanOrEqual(caEnd.getTime());
    expect(new Date(leaf.validTo).getTime()).toBeGreaterThan(Date.now() + 18 * 86_400_000);
  });
});

describe("the CA's status", () => {
  it('DISABLED: /readyz (admin listener) is not ready naming the directory and the status, and issuance waits without a sign call; ACTIVE again: ready', async () => {
    const t = await gateway();
    const sim = t.gw.simulator!;
    const c = await AcmeTestClient.withAccount(t);
    const order = await readyOrder(c, 'disabled.ca.test');
    sim.faults.set({ behaviour: { caStatus: 'DISABLED' } });
    await t.gw.directories[0]!.ca.refresh();
    const ready = await t.admin('/readyz', { token: null });
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toBe('the Private CA cannot issue for directory default: the Private CA ' + sim.caTag + ' is DISABLED, not ACTIVE');

    const fin = await c.finalize(order.finalize, ['disabled.ca.test']);
    expect(fin.status).toBe(200);
    expect(fin.body.status).toBe('processing');
    expect((await simCalls(t)).sign ?? 0).toBe(0);
    const jobs = await t.gw.store.jobs.countActive();
    expect(jobs).toBeGreaterThan(0);

    sim.faults.set({});
    await t.gw.directories[0]!.ca.refresh();
    expect((await t.admin('/readyz', { token: null })).status).toBe(200);
  });
});

describe('the sign answer and the gateway in front of the PCA', () => {
  it('caChain as one PEM string (an older docs page): the chain is built the same', async () => {
    const t = await gateway({ simulator: { behaviour: { caChain: 'string' } } });
    const c = await AcmeTestClient.withAccount(t);
    const { certUrl } = await c.issue(['chain.ca.test']);
    expect((await c.download(certUrl)).text.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('a rate limit (429 past 1 call a second): signs refused with 429 are tried again and every order ends valid', async () => {
    const t = await gateway({ simulator: { behaviour: { rateLimitPerSecond: 1 } } });
    const c = await AcmeTestClient.withAccount(t);
    const orders = [];
    for (const n of ['r1', 'r2', 'r3']) orders.push({ name: `${n}.rate.test`, ...(await readyOrder(c, `${n}.rate.test`)) });
    // Three finalizes at once: three sign calls in the same second, two of them over the limit.
    const fins = await Promise.all(orders.map((o) => c.finalize(o.finalize, [o.name])));
    for (const f of fins) expect(f.status).toBe(200);
    for (const o of orders) {
      const done = await c.poll(o.url, (b) => b.status === 'valid' || b.status === 'invalid', 45_000);
      expect(done.body.status, done.text).toBe('valid');
    }
    const metrics = await (await t.admin('/metrics')).text();
    expect(metrics).toMatch(/acme_pca_call_duration_seconds_count\{operation="sign",outcome="http_429"\} [1-9]/);
  }, 90_000);
});
