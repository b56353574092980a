import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as x509 from '@peculiar/x509';
import { normalizeSerialHex } from '../../src/acme/issued-check.js';
import { makeCsr } from '../../src/pca/make-csr.js';
import { AcmeTestClient, b64u, startTestGateway, type TestGateway } from '../harness.js';
import { expectProblem } from './expect.js';

// RFC 8555 §7.6 revokeCert when the Private CA's revoke call does not simply succeed: the PCA's
// answer goes through the one translator (pca/problems.ts) by its reason, never by its raw code.
// Issue 10: an answer that is lost, garbled or "already revoked" is confirmed by reading the state
// back (Get issued cert, then the CRL); the CRL is rotated after each revocation.

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterEach(() => t.gw.simulator!.faults.set({}));
afterAll(async () => t?.dispose());

async function issue(name: string, g: { t: TestGateway; c: AcmeTestClient } = { t, c }): Promise<{ certB64: string; pcaSerial: string; id: string }> {
  const { t, c } = g;
  const created = await c.newOrder([name]);
  await c.completeAuthorizations(created.body);
  await c.poll(created.location!, (b) => b.status === 'ready');
  const csr = await makeCsr([name]);
  const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const fin = await c.post(created.body.finalize, { csr: b64u(der) });
  expect(fin.body.status).toBe('valid');
  const chain = (await c.download(fin.body.certificate)).text;
  const leaf = new X509Certificate(chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25));
  const stored = (await t.gw.store.certificates.getBySerial(normalizeSerialHex(leaf.serialNumber)))!;
  return { certB64: b64u(leaf.raw), pcaSerial: stored.pcaSerial, id: stored.id };
}

const statusOf = async (serial: string, g: TestGateway = t) => (await g.gw.store.certificates.getBySerial(serial))?.status;
const crlLists = async (g: TestGateway, pcaSerial: string) => new x509.X509Crl(await g.gw.pca.crl()).entries.some((e) => normalizeSerialHex(e.serialNumber) === normalizeSerialHex(pcaSerial));
const calls = async (g: TestGateway): Promise<Record<string, number>> => (await (await fetch(`${g.gw.simulator!.url}/_simulator/calls`)).json()) as Record<string, number>;

describe('POST /revoke-cert, the PCA side', () => {
  it('the PCA has already revoked it (an earlier answer was lost): 200, recorded as revoked; again → alreadyRevoked', async () => {
    const { certB64, pcaSerial } = await issue('pca-already.example.com');
    await t.gw.pca.revoke(pcaSerial);
    const res = await c.post(t.url('revokeCert'), { certificate: certB64, reason: 1 });
    expect(res.status, res.text).toBe(200);
    expect(await statusOf(normalizeSerialHex(pcaSerial))).toBe('revoked');
    expectProblem(await c.post(t.url('revokeCert'), { certificate: certB64 }), 'alreadyRevoked', 400);
  });

  it('the PCA refuses the credentials: 500 serverInternal naming its code and what the operator checks; not recorded as revoked', async () => {
    const { certB64, pcaSerial } = await issue('pca-auth.example.com');
    t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 401, errorCode: '200', endpoints: ['revoke'] });
    const res = await c.post(t.url('revokeCert'), { certificate: certB64 });
    expectProblem(res, 'serverInternal', 500);
    expect(res.body.detail).toMatch(/^the Private CA did not revoke the certificate \(HTTP 401, code 200\b.*pca\.accessKey\/secretKey and the clock$/);
    expect(await statusOf(normalizeSerialHex(pcaSerial))).toBe('valid');
  });

  it('"already revoked" (INVALID_STATUS) that is not true: reading back finds it on no CRL → 500, not recorded as revoked', async () => {
    const { certB64, pcaSerial } = await issue('pca-lie.example.com');
    t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 400, errorCode: 'INVALID_STATUS', endpoints: ['revoke'] });
    const res = await c.post(t.url('revokeCert'), { certificate: certB64 });
    expectProblem(res, 'serverInternal', 500);
    expect(res.body.detail).toMatch(/^the Private CA did not revoke the certificate: its answer was unclear \(HTTP 400, code INVALID_STATUS.*\) and the CRL does not show it revoked; try again$/);
    expect(await statusOf(normalizeSerialHex(pcaSerial))).toBe('valid');
    expect(await crlLists(t, pcaSerial)).toBe(false);
  });

  it('a garbled answer to a revoke the PCA carried out: confirmed by reading back, 200, revoked', async () => {
    const { certB64, pcaSerial } = await issue('pca-garbled.example.com');
    t.gw.simulator!.faults.set({ malformedRate: 1, endpoints: ['revoke'] });
    const res = await c.post(t.url('revokeCert'), { certificate: certB64, reason: 4 });
    expect(res.status, res.text).toBe(200);
    expect(await statusOf(normalizeSerialHex(pcaSerial))).toBe('revoked');
    expect(await crlLists(t, pcaSerial)).toBe(true);
  });

  it('another refusal with a 400 is not taken for "already revoked": 500 serverInternal, try again', async () => {
    const { certB64, pcaSerial } = await issue('pca-refused.example.com');
    t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 400, errorCode: 'FAIL_CORE', endpoints: ['revoke'] });
    const res = await c.post(t.url('revokeCert'), { certificate: certB64 });
    expectProblem(res, 'serverInternal', 500);
    expect(res.body.detail).toMatch(/^the Private CA did not revoke the certificate \(HTTP 400, code FAIL_CORE.*\); try again$/);
    expect(await statusOf(normalizeSerialHex(pcaSerial))).toBe('valid');
  });
});

describe('revocation that is confirmed and published at once (issue 10)', () => {
  const extra: TestGateway[] = [];
  afterAll(async () => {
    for (const g of extra) await g.dispose();
  });
  async function gateway(config: Record<string, Record<string, unknown>>) {
    const g = await startTestGateway({ config });
    extra.push(g);
    return { t: g, c: await AcmeTestClient.withAccount(g) };
  }

  it('answers lost to timeouts and nothing revoked: reading back shows it is not, → 500 try again, not recorded', async () => {
    const g = await gateway({ pca: { timeoutMs: 300 } });
    const { certB64, pcaSerial } = await issue('pca-timeout.example.com', g);
    g.t.gw.simulator!.faults.set({ timeoutRate: 1, endpoints: ['revoke'] });
    const res = await g.c.post(g.t.url('revokeCert'), { certificate: certB64 });
    expectProblem(res, 'serverInternal', 500);
    expect(res.body.detail).toMatch(/its answer was unclear \(timeout\) and the CRL does not show it revoked; try again$/);
    expect(await statusOf(normalizeSerialHex(pcaSerial), g.t)).toBe('valid');
  });

  it('a CRL published on a cycle lists the serial right after the revocation: the gateway rotates it', async () => {
    const g = await gateway({ simulator: { behaviour: { crlCycleMs: 3_600_000 } } });
    const { certB64, pcaSerial } = await issue('pca-rotate.example.com', g);
    expect(await crlLists(g.t, pcaSerial)).toBe(false);
    const before = (await calls(g.t)).rotate ?? 0;
    expect((await g.c.post(g.t.url('revokeCert'), { certificate: certB64 })).status).toBe(200);
    expect((await calls(g.t)).rotate ?? 0).toBe(before + 1);
    expect(await crlLists(g.t, pcaSerial)).toBe(true);
  });

  it('pca.rotateCrlAfterRevoke false: no rotation, and the CRL lists it at its next cycle', async () => {
    const g = await gateway({ pca: { rotateCrlAfterRevoke: false }, simulator: { behaviour: { crlCycleMs: 3_600_000 } } });
    const { certB64, pcaSerial } = await issue('pca-norotate.example.com', g);
    expect(await crlLists(g.t, pcaSerial)).toBe(false); // published before the revocation
    expect((await g.c.post(g.t.url('revokeCert'), { certificate: certB64 })).status).toBe(200);
    expect((await calls(g.t)).rotate ?? 0).toBe(0);
    expect(await crlLists(g.t, pcaSerial)).toBe(false);
  });

  it('a PCA that refuses rotation (403): the revocation still succeeds, and rotation is not asked for again', async () => {
    const g = await gateway({});
    g.t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 403, errorCode: 'FORBIDDEN', endpoints: ['rotate'] });
    for (const name of ['pca-forbid1.example.com', 'pca-forbid2.example.com']) {
      const { certB64, pcaSerial } = await issue(name, g);
      expect((await g.c.post(g.t.url('revokeCert'), { certificate: certB64 })).status).toBe(200);
      expect(await statusOf(normalizeSerialHex(pcaSerial), g.t)).toBe('revoked');
    }
    expect((await calls(g.t)).rotate).toBe(1);
  });
});

describe("an operator's revocation (admin API) is confirmed and published the same way (issue 10)", () => {
  let g: TestGateway;
  let gc: AcmeTestClient;
  beforeAll(async () => {
    g = await startTestGateway({ config: { simulator: { behaviour: { crlCycleMs: 3_600_000 } } } });
    gc = await AcmeTestClient.withAccount(g);
  });
  afterEach(() => g.gw.simulator!.faults.set({}));
  afterAll(async () => g?.dispose());
  const adminRevoke = (serialHex: string) =>
    g.admin(`/api/certificates/${serialHex}/revoke`, { method: 'POST', body: JSON.stringify({ reason: 4 }), headers: { 'content-type': 'application/json' } });

  it('a garbled answer to a revoke the PCA carried out: read back, revoked, and the CRL (on an hour cycle) lists it at once', async () => {
    const { pcaSerial } = await issue('op-garbled.example.com', { t: g, c: gc });
    expect(await crlLists(g, pcaSerial)).toBe(false);
    g.gw.simulator!.faults.set({ malformedRate: 1, endpoints: ['revoke'] });
    const res = await adminRevoke(normalizeSerialHex(pcaSerial));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await statusOf(normalizeSerialHex(pcaSerial), g)).toBe('revoked');
    g.gw.simulator!.faults.set({});
    expect(await crlLists(g, pcaSerial)).toBe(true);
  });

  it('"already revoked" that is not true: refused (502) naming the read-back, not recorded as revoked', async () => {
    const { pcaSerial } = await issue('op-lie.example.com', { t: g, c: gc });
    g.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 400, errorCode: 'INVALID_STATUS', endpoints: ['revoke'] });
    const res = await adminRevoke(normalizeSerialHex(pcaSerial));
    expect(res.status).toBe(502);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/its answer was unclear \(HTTP 400, code INVALID_STATUS.*\) and the CRL does not show it revoked; try again$/);
    expect(await statusOf(normalizeSerialHex(pcaSerial), g)).toBe('valid');
  });
});
