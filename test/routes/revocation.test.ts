import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCsr } from '../../src/pca/make-csr.js';
import { AcmeTestClient, b64u, readResponse, startTestGateway, type AccountKey, type TestGateway } from '../harness.js';
import { expectAcmeHeaders, expectJson, expectProblem } from './expect.js';

// RFC 8555 §7.6 revokeCert (interop item 38) and RFC 9773 renewal information (interop item 37).

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());

/** Issues a certificate for `name` and returns its DER (base64url) and the leaf key as an account-style key. */
async function issueWithKey(name: string): Promise<{ certB64: string; leafPem: string; certKey: AccountKey }> {
  const created = await c.newOrder([name]);
  await c.completeAuthorizations(created.body);
  await c.poll(created.location!, (b) => b.status === 'ready');
  const csr = await makeCsr([name]);
  const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const fin = await c.post(created.body.finalize, { csr: b64u(der) });
  expect(fin.body.status).toBe('valid');
  const chain = (await c.download(fin.body.certificate)).text;
  const leafPem = chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25);
  const certB64 = b64u(new X509Certificate(leafPem).raw);
  return { certB64, leafPem, certKey: { alg: 'ES256', privateKey: csr.keys.privateKey as never, publicJwk: await exportJWK(csr.keys.publicKey) } };
}

describe('POST /revoke-cert', () => {
  it('by the owning account → 200 with an empty body; again → alreadyRevoked', async () => {
    const { certB64 } = await issueWithKey('revoke1.example.com');
    const res = await c.post(t.url('revokeCert'), { certificate: certB64, reason: 0 });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expectAcmeHeaders(res);
    expectProblem(await c.post(t.url('revokeCert'), { certificate: certB64 }), 'alreadyRevoked', 400);
  });

  it('by the certificate key (jwk) → 200', async () => {
    const { certB64, certKey } = await issueWithKey('revoke2.example.com');
    const byKey = new AcmeTestClient(t, certKey);
    const res = await byKey.post(t.url('revokeCert'), { certificate: certB64, reason: 4 }, { jwk: true });
    expect(res.status).toBe(200);
  });

  it('by another account → 403 unauthorized; by an unrelated jwk → 403 unauthorized; the certificate stays valid', async () => {
    const { certB64 } = await issueWithKey('revoke3.example.com');
    const other = await AcmeTestClient.withAccount(t);
    expectProblem(await other.post(t.url('revokeCert'), { certificate: certB64 }), 'unauthorized', 403);
    const stranger = await AcmeTestClient.create(t);
    expectProblem(await stranger.post(t.url('revokeCert'), { certificate: certB64 }, { jwk: true }), 'unauthorized', 403);
    expect((await c.post(t.url('revokeCert'), { certificate: certB64 })).status).toBe(200);
  });

  it('reason 7 (unused) → badRevocationReason', async () => {
    const { certB64 } = await issueWithKey('revoke4.example.com');
    expectProblem(await c.post(t.url('revokeCert'), { certificate: certB64, reason: 7 }), 'badRevocationReason', 400);
  });

  it('a certificate this server did not issue → 404', async () => {
    const root = new X509Certificate(t.gw.simulator!.rootPem);
    expectProblem(await c.post(t.url('revokeCert'), { certificate: b64u(root.raw) }), 'malformed', 404);
  });
});

describe('GET /renewal-info/:certId', () => {
  it('answers a suggested window for an issued certificate, with Retry-After', async () => {
    const { leafPem } = await issueWithKey('ari.example.com');
    const cert = new x509.X509Certificate(leafPem);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)!;
    const serial = Buffer.from(cert.serialNumber, 'hex');
    const certId = `${Buffer.from(aki.keyId!, 'hex').toString('base64url')}.${serial.toString('base64url')}`;
    const res = await readResponse(await t.request(`/renewal-info/${certId}`));
    expectJson(res, 200, { nonce: false });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const { start, end } = res.body.suggestedWindow;
    expect(Date.parse(end) - Date.parse(start)).toBeGreaterThan(1000);
  });

  // RFC 9773 §4.1: certID = base64url(AKI keyIdentifier) "." base64url(serial). What cannot be parsed
  // as one is the client's mistake (400 malformed, as Boulder answers); a well-formed certID of no
  // certificate issued here is 404.
  it.each([
    ['no dot', 'not-a-cert-id'],
    ['an empty serial', 'AAAA.'],
    ['an empty key identifier', '.AQID'],
    ['two dots', 'AAAA.AQ.ID'],
    ['characters outside base64url', 'AA+A.AQID'],
    ['a serial over 20 octets', `AAAA.${Buffer.alloc(22, 1).toString('base64url')}`],
  ])('a certID with %s → 400 malformed', async (_what, certId) => {
    const res = await readResponse(await t.request(`/renewal-info/${encodeURIComponent(certId)}`));
    expectProblem(res, 'malformed', 400, { nonce: false });
    expect(res.body.detail).toMatch(/RFC 9773 §4\.1/);
  });

  it('a well-formed certID of no certificate issued here → 404 malformed', async () => {
    expectProblem(await readResponse(await t.request('/renewal-info/AAAA.AQID')), 'malformed', 404, { nonce: false });
  });
});
