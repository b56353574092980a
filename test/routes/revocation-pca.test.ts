import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { normalizeSerialHex } from '../../src/acme/issued-check.js';
import { makeCsr } from '../../src/pca/make-csr.js';
import { AcmeTestClient, b64u, startTestGateway, type TestGateway } from '../harness.js';
import { expectProblem } from './expect.js';

// RFC 8555 §7.6 revokeCert when the Private CA's revoke call does not simply succeed: the PCA's
// answer goes through the one translator (pca/problems.ts) by its reason, never by its raw code.

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterEach(() => t.gw.simulator!.faults.set({}));
afterAll(async () => t?.dispose());

async function issue(name: string): Promise<{ certB64: string; pcaSerial: string; id: string }> {
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

const statusOf = async (serial: string) => (await t.gw.store.certificates.getBySerial(serial))?.status;

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

  it('another refusal with a 400 is not taken for "already revoked": 500 serverInternal, try again', async () => {
    const { certB64, pcaSerial } = await issue('pca-refused.example.com');
    t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 400, errorCode: 'FAIL_CORE', endpoints: ['revoke'] });
    const res = await c.post(t.url('revokeCert'), { certificate: certB64 });
    expectProblem(res, 'serverInternal', 500);
    expect(res.body.detail).toMatch(/^the Private CA did not revoke the certificate \(HTTP 400, code FAIL_CORE.*\); try again$/);
    expect(await statusOf(normalizeSerialHex(pcaSerial))).toBe('valid');
  });
});
