import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as x509 from '@peculiar/x509';
import { ManualClock, systemClock } from '../platform/clock.js';
import { PcaError } from './errors.js';
import { NcpPcaClient } from './ncp-client.js';
import { problemFromPcaError } from './problems.js';
import { startPcaSimulator, type RunningSimulator } from './simulator/index.js';
import { makeCsr } from './make-csr.js';

const AK = 'ncp_iam_TESTACCESSKEY';
const SK = 'ncp_iam_TESTSECRETKEY';

function verifyChain(leafPem: string, chainPems: string[], rootPem: string): void {
  const certs = [leafPem, ...chainPems].map((p) => new X509Certificate(p));
  expect(certs.length).toBeGreaterThanOrEqual(2);
  for (let i = 0; i + 1 < certs.length; i++) {
    expect(certs[i]!.checkIssued(certs[i + 1]!)).toBe(true);
    expect(certs[i]!.verify(certs[i + 1]!.publicKey)).toBe(true);
  }
  const last = certs[certs.length - 1]!;
  const root = new X509Certificate(rootPem);
  expect(last.checkIssued(root)).toBe(true);
  expect(last.verify(root.publicKey)).toBe(true);
}

describe.each([1, 2] as const)('NcpPcaClient against the simulator (tiers %i)', (tiers) => {
  let dir: string;
  let sim: RunningSimulator;
  let client: NcpPcaClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-client-'));
    // keyRule any: the client is shown signing RSA and EC keys; the CA's own rule is the simulator's test.
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK, tiers, behaviour: { keyRule: 'any' } });
    client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: AK, secretKey: SK, clock: systemClock, timeoutMs: 5000 });
  });
  afterAll(async () => {
    client.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['RSA2048', 'P256'] as const)('signs a %s CSR and returns a chain that verifies', async (keyType) => {
    const csr = await makeCsr(['app.example.test', '192.0.2.7'], { keyType });
    const res = await client.sign(csr.csrPem, { period: 30 });
    expect(res.serialNo).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){19}$/);
    expect(res.leafPem).toMatch(/^-----BEGIN CERTIFICATE-----\n(.{64}\n)*.{1,64}\n-----END CERTIFICATE-----\n$/);
    expect(res.chainPems).toHaveLength(1);
    verifyChain(res.leafPem, res.chainPems, sim.rootPem);
    if (tiers === 1) expect(new X509Certificate(res.chainPems[0]!).fingerprint256).toBe(new X509Certificate(sim.rootPem).fingerprint256);
    else expect(res.chainPems[0]).not.toBe(sim.rootPem);

    const leaf = new x509.X509Certificate(res.leafPem);
    expect(leaf.subject).toBe('CN=app.example.test');
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(30 * 86_400_000 + 60_000);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.toJSON()).toEqual([
      { type: 'dns', value: 'app.example.test' },
      { type: 'ip', value: '192.0.2.7' },
    ]);
    expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBeTruthy();
    const ku = leaf.getExtension(x509.KeyUsagesExtension)!;
    expect(Boolean(ku.usages & x509.KeyUsageFlags.keyEncipherment)).toBe(keyType === 'RSA2048');
    expect(leaf.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(Buffer.from(leaf.serialNumber, 'hex')[0]! & 0x80).toBe(0);
  });

  it('issues an empty-subject cert with a critical SAN when the CSR has no CN; period MAX = CA expiry', async () => {
    const csr = await makeCsr(['nocn.example.test'], { commonName: null });
    const res = await client.sign(csr.csrPem, { period: 'MAX' });
    const leaf = new x509.X509Certificate(res.leafPem);
    expect(leaf.subject).toBe('');
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.critical).toBe(true);
    expect(leaf.notAfter.getTime()).toBe(new x509.X509Certificate(res.chainPems[0]!).notAfter.getTime());
  });

  it('chain() returns the CA chain', async () => {
    const chain = await client.chain();
    expect(chain).toHaveLength(tiers);
    expect(new X509Certificate(chain[chain.length - 1]!).fingerprint256).toBe(new X509Certificate(sim.rootPem).fingerprint256);
  });

  it('getCert and listCerts see issued certificates', async () => {
    const csr = await makeCsr(['get.example.test']);
    const res = await client.sign(csr.csrPem);
    const info = await client.getCert(res.serialNo);
    expect(info).toMatchObject({ serialNo: res.serialNo, commonName: 'get.example.test', certPem: res.leafPem });
    expect(info.caChainPems).toHaveLength(tiers);
    // default period 90 days
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBe(90 * 86_400_000 + 60_000);
    const page = await client.listCerts();
    expect(page.serials).toContain(res.serialNo);
    expect(page).toMatchObject({ currentPageNo: 1, totalPageNo: 1, totalCnt: page.serials.length });
    await expect(client.getCert('AB:CD')).rejects.toMatchObject({ kind: 'http', httpStatus: 404, code: 'NOT_FOUND', reason: 'certificateNotFound', retryable: false });
  });

  it('revoke puts the serial on a CRL signed by the issuing CA', async () => {
    const csr = await makeCsr(['revoke.example.test']);
    const res = await client.sign(csr.csrPem);
    await client.revoke(res.serialNo);
    const crl = new x509.X509Crl(await client.crl());
    expect(crl.findRevoked(res.serialNo.replace(/:/g, '').toLowerCase())).not.toBeNull();
    const issuer = new x509.X509Certificate(res.chainPems[0]!);
    expect(await crl.verify({ publicKey: issuer })).toBe(true);
    await expect(client.revoke(res.serialNo)).rejects.toMatchObject({ httpStatus: 400, code: 'INVALID_STATUS', reason: 'alreadyRevoked' });
    await expect(client.revoke('01:02:03')).rejects.toMatchObject({ httpStatus: 404, code: 'NOT_FOUND', reason: 'certificateNotFound' });
  });
});

describe('NcpPcaClient errors', () => {
  let dir: string;
  let sim: RunningSimulator;
  const clients: NcpPcaClient[] = [];
  const make = (o: Partial<ConstructorParameters<typeof NcpPcaClient>[0]> = {}): NcpPcaClient => {
    const c = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: AK, secretKey: SK, clock: systemClock, timeoutMs: 5000, ...o });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-client-err-'));
    // keyRule any: a P-384 CSR is signed below, so only the keys no PCA signs are refused here.
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK, behaviour: { keyRule: 'any' } });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('wrong secret → 401 gateway error 200, not retryable, no secret in the message', async () => {
    const err = await make({ secretKey: 'wrong-secret' }).chain().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PcaError);
    expect(err).toMatchObject({ kind: 'http', httpStatus: 401, code: '200', pcaMessage: 'Authentication Failed', reason: 'authentication', retryable: false });
    expect(String((err as Error).message)).not.toContain('wrong-secret');
  });

  it('stale timestamp (clock skew > 5 min) → 401', async () => {
    const clock = new ManualClock(Date.now() - 6 * 60_000);
    await expect(make({ clock }).chain()).rejects.toMatchObject({ httpStatus: 401, code: '200', reason: 'authentication' });
    clock.set(Date.now() - 4 * 60_000);
    await expect(make({ clock }).chain()).resolves.toHaveLength(2);
  });

  it('missing csrPem → 400 EMPTY_CSR', async () => {
    await expect(make().sign('')).rejects.toMatchObject({ kind: 'http', httpStatus: 400, code: 'EMPTY_CSR', pcaMessage: 'csr is missing.', reason: 'csrRejected' });
  });

  it('rejects bad CSRs and periods with the PCA codes', async () => {
    const c = make();
    const good = await makeCsr(['x.example.test']);
    await expect(c.sign('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')).rejects.toMatchObject({ code: 'INVALID_INPUT', reason: 'csrRejected' });
    const tampered = good.csrPem.replace(/^(-----BEGIN CERTIFICATE REQUEST-----\n.{20})(.)/, (_m, a: string, ch: string) => a + (ch === 'A' ? 'B' : 'A'));
    await expect(c.sign(tampered)).rejects.toMatchObject({ httpStatus: 400, reason: 'csrRejected' });
    await expect(c.sign((await makeCsr(['e.example.test'], { keyType: 'Ed25519' })).csrPem)).rejects.toMatchObject({ code: 'INVALID_X509_KEY_TYPE', reason: 'csrRejected' });
    await expect(c.sign((await makeCsr(['r.example.test'], { keyType: 'RSA1024' })).csrPem)).rejects.toMatchObject({ code: 'INVALID_X509_KEY_TYPE' });
    await expect(c.sign((await makeCsr(['p.example.test'], { keyType: 'P384' })).csrPem)).resolves.toBeTruthy();
    // 3650 days outlives the ~5-year intermediate
    await expect(c.sign(good.csrPem, { period: 3650 })).rejects.toMatchObject({ httpStatus: 400, code: 'EXCEED_EXPIRY_DATE', reason: 'validityRejected' });
    await expect(c.sign(good.csrPem, { period: 0 })).rejects.toMatchObject({ kind: 'malformed', reason: 'badRequest', retryable: false });
  });

  it('unknown caTag → 404 NOT_FOUND', async () => {
    await expect(make({ caTag: '00000000-00000000' }).chain()).rejects.toMatchObject({ httpStatus: 404, code: 'NOT_FOUND', reason: 'unknownCa' });
  });

  it('accepts an endpoint that already ends in /api/v1', async () => {
    await expect(make({ endpoint: `${sim.url}/api/v1/` }).chain()).resolves.toHaveLength(2);
  });

  it('connection refused → network, retryable', async () => {
    const c = make({ endpoint: 'http://127.0.0.1:1' });
    await expect(c.chain()).rejects.toMatchObject({ kind: 'network', reason: 'unavailable', retryable: true });
  });
});

/** A scripted NCP-shaped server, for response shapes the simulator does not produce. */
describe('NcpPcaClient response parsing', () => {
  let dir: string;
  let sim: RunningSimulator;
  let server: http.Server;
  let reply: (req: http.IncomingMessage) => { status: number; body: string } | 'hang';
  let seen: http.IncomingMessage[] = [];
  /** The request bodies, in the order of `seen`. */
  let bodies: string[] = [];
  let dateHeader: string | undefined;
  let client: NcpPcaClient;
  let leafPem: string;
  let interPem: string;
  let rootPem: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-client-shape-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK });
    const real = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: AK, secretKey: SK, clock: systemClock });
    const r = await real.sign((await makeCsr(['shape.example.test'])).csrPem);
    real.close();
    leafPem = r.leafPem;
    interPem = r.chainPems[0]!;
    rootPem = sim.rootPem;
    server = http.createServer((req, res) => {
      seen.push(req);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => bodies.push(Buffer.concat(chunks).toString('utf8')));
      const out = reply(req);
      if (out === 'hang') return;
      res.writeHead(out.status, { 'content-type': 'application/json', ...(dateHeader ? { date: dateHeader } : {}) }).end(out.body);
    });
    await new Promise<void>((r2) => server.listen(0, '127.0.0.1', () => r2()));
    const { port } = server.address() as AddressInfo;
    client = new NcpPcaClient({ endpoint: `http://127.0.0.1:${port}`, caTag: 'aaaaaaaa-bbbbbbbb', accessKey: AK, secretKey: SK, clock: systemClock, timeoutMs: 300 });
  });
  afterEach(() => {
    seen = [];
    bodies = [];
    dateHeader = undefined;
  });
  afterAll(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ok = (data: unknown) => () => ({ status: 200, body: JSON.stringify({ code: 'SUCCESS', msg: 'Success', data }) });

  it('caChain as a single string with duplicates and root-first order → issuer-first, root excluded', async () => {
    reply = ok({ certificate: leafPem.replace(/\n/g, '\r\n'), caChain: `${rootPem}\n${interPem}${interPem}`, issuer: interPem, serialNo: '0A:0B', ocspResponder: '' });
    const res = await client.sign('csr', { period: 7 });
    expect(res.chainPems).toEqual([interPem]);
    expect(res.leafPem).toBe(leafPem);
  });

  it('caChain as an array with empty entries', async () => {
    reply = ok({ certificate: leafPem, caChain: ['', rootPem, '', interPem], issuer: '', serialNo: '0A:0B' });
    expect((await client.sign('csr')).chainPems).toEqual([interPem]);
  });

  it('only `issuer` present (caChain missing) still links', async () => {
    reply = ok({ certificate: leafPem, issuer: interPem, serialNo: '0A:0B' });
    expect((await client.sign('csr')).chainPems).toEqual([interPem]);
  });

  it('nothing links → malformed (retryable-unknown)', async () => {
    reply = ok({ certificate: leafPem, caChain: [rootPem], issuer: rootPem, serialNo: '0A:0B' });
    await expect(client.sign('csr')).rejects.toMatchObject({ kind: 'malformed', reason: 'badResponse', retryable: true, outcomeUnknown: true });
  });

  it('sends the signed headers, raw colons, Content-Type on GET, and period as a string', async () => {
    reply = ok({ certificate: leafPem, caChain: [interPem, rootPem], serialNo: '0A:0B' });
    await client.sign('csr', { period: 7 });
    reply = ok(null);
    await client.revoke('AB:CD:01');
    reply = ok({ totalCnt: 0, listCerts: [], totalPageNo: 0, currentPageNo: 2 });
    await client.listCerts(2);
    const [signReq, revokeReq, listReq] = seen;
    expect(signReq!.url).toBe('/api/v1/ca/aaaaaaaa-bbbbbbbb/cert/sign');
    expect(revokeReq!.url).toBe('/api/v1/ca/aaaaaaaa-bbbbbbbb/cert/AB:CD:01/revoke');
    expect(listReq!.url).toBe('/api/v1/ca/aaaaaaaa-bbbbbbbb/cert?pageNo=2');
    for (const r of seen) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-ncp-iam-access-key']).toBe(AK);
      expect(r.headers['x-ncp-apigw-timestamp']).toMatch(/^\d{13}$/);
      const { signatureV2 } = await import('./signature.js');
      expect(r.headers['x-ncp-apigw-signature-v2']).toBe(
        signatureV2({ method: r.method!, uri: r.url!, timestamp: r.headers['x-ncp-apigw-timestamp'] as string, accessKey: AK, secretKey: SK }),
      );
    }
  });

  it("sign's body as NAVER's issuer sends it: csrPem trimmed, period a string of days, keyType/keyBits of the CA key", async () => {
    reply = ok({ certificate: leafPem, caChain: [interPem, rootPem], serialNo: '0A:0B' });
    await client.sign('\n-----BEGIN CERTIFICATE REQUEST-----\nAA\n-----END CERTIFICATE REQUEST-----\n', { period: 7, caKey: { kind: 'EC', bits: 256 } });
    await client.sign('csr', { period: 30, caKey: { kind: 'RSA', bits: 4096 } });
    await client.sign('csr');
    await new Promise((r) => setTimeout(r, 20));
    expect(bodies.map((b) => JSON.parse(b))).toEqual([
      { csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAA\n-----END CERTIFICATE REQUEST-----', period: '7', keyType: 'ECDSA', keyBits: '256' },
      { csrPem: 'csr', period: '30', keyType: 'RSA', keyBits: '4096' },
      { csrPem: 'csr' },
    ]);
  });

  it('getCa reads status, subject, key, end and CRL URLs (§3.9); rotateCrl posts no body (§3.8)', async () => {
    const inter = new X509Certificate(interPem);
    reply = ok({
      caInfo: { caTag: 'aaaaaaaa-bbbbbbbb', status: 'DEACTIVATED', caType: 'PRIVATE_SUB', urlInfo: { crl: ['https://pca.example/ext/a/crl'], ocsp: [], ca: [] } },
      caCertInfo: { commonName: 'Team CA', publicKeyAlgorithm: 'EC', notBeforeDate: 1_700_000_000_000, notAfterDate: 1_800_000_000_000, certPem: interPem },
    });
    const ca = await client.getCa();
    expect(ca).toMatchObject({ caTag: 'aaaaaaaa-bbbbbbbb', status: 'DEACTIVATED', caType: 'PRIVATE_SUB', subject: 'Team CA', publicKeyAlgorithm: 'EC', key: { kind: 'EC', bits: 256 }, crlUrls: ['https://pca.example/ext/a/crl'] });
    expect(ca.notAfter.getTime()).toBe(1_800_000_000_000);
    // Without notAfterDate, the certificate's own end.
    reply = ok({ caInfo: { status: 'ACTIVE' }, caCertInfo: { certPem: interPem } });
    expect((await client.getCa()).notAfter.getTime()).toBe(new Date(inter.validTo).getTime());
    reply = ok({ caInfo: {}, caCertInfo: {} });
    await expect(client.getCa()).rejects.toMatchObject({ kind: 'malformed' });
    reply = ok(null);
    await client.rotateCrl();
    expect(seen.at(-1)!.method).toBe('POST');
    expect(seen.at(-1)!.url).toBe('/api/v1/ca/aaaaaaaa-bbbbbbbb/crl/rotate');
    expect(seen.at(-1)!.headers['content-length']).toBe('0');
  });

  it("a list page's own currentPageNo is passed on as it came (null when absent)", async () => {
    reply = ok({ totalCnt: 3, listCerts: ['01', '02', '03'], totalPageNo: 1 });
    expect((await client.listCerts(2)).currentPageNo).toBeNull();
    reply = ok({ totalCnt: 3, listCerts: ['01', '02', '03'], totalPageNo: 1, currentPageNo: 1 });
    expect((await client.listCerts(2)).currentPageNo).toBe(1);
  });

  it("getCert's revocation status only when the PCA sends one; the gateway's details and Date are kept", async () => {
    const cert = { serialNo: '0A:0B', commonName: 'x', notBeforeDate: 1, notAfterDate: 2, certPem: leafPem };
    for (const [extra, revoked] of [[{}, null], [{ status: 'REVOKED' }, true], [{ status: 'VALID' }, false], [{ revokeDate: 1_700_000_000_000 }, true]] as const) {
      reply = ok({ ...cert, ...extra });
      expect((await client.getCert('0A:0B')).revoked).toBe(revoked);
    }
    dateHeader = 'Tue, 14 Nov 2023 22:13:20 GMT';
    reply = () => ({ status: 401, body: JSON.stringify({ error: { errorCode: '200', message: 'Authentication Failed', details: 'signature mismatch' } }) });
    await expect(client.chain()).rejects.toMatchObject({ pcaMessage: 'Authentication Failed', pcaDetails: 'signature mismatch', reason: 'authentication' });
    expect(client.lastAnswer()).toMatchObject({ status: 401, serverDate: new Date(1_700_000_000_000) });
  });

  it('invalid JSON on 200 → malformed; envelope error on 200 → http', async () => {
    reply = () => ({ status: 200, body: '{"code":"SUCC' });
    await expect(client.chain()).rejects.toMatchObject({ kind: 'malformed', reason: 'badResponse', retryable: true });
    reply = () => ({ status: 200, body: JSON.stringify({ code: 'INVALID_CA_STATUS', msg: 'ca is not active.', data: null }) });
    await expect(client.chain()).rejects.toMatchObject({ kind: 'http', code: 'INVALID_CA_STATUS', pcaMessage: 'ca is not active.', reason: 'caUnusable' });
  });

  it('gateway 429 and PCA 500 are retryable http errors', async () => {
    reply = () => ({ status: 429, body: JSON.stringify({ error: { errorCode: '420', message: 'Rate Limited', details: '' } }) });
    await expect(client.crl()).rejects.toMatchObject({ kind: 'http', httpStatus: 429, code: '420', reason: 'unavailable', retryable: true });
    reply = () => ({ status: 500, body: JSON.stringify({ code: 'INTERNAL_SERVER_ERROR', msg: 'boom', data: null }) });
    await expect(client.crl()).rejects.toMatchObject({ httpStatus: 500, code: 'INTERNAL_SERVER_ERROR', reason: 'unavailable', retryable: true });
    reply = () => ({ status: 502, body: '<html>bad gateway</html>' });
    await expect(client.crl()).rejects.toMatchObject({ httpStatus: 502, reason: 'unavailable', retryable: true });
  });

  it('no answer → timeout; caller abort → timeout', async () => {
    reply = () => 'hang';
    await expect(client.chain()).rejects.toMatchObject({ kind: 'timeout', reason: 'unavailable', retryable: true });
    const ac = new AbortController();
    const p = client.sign('csr', { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('chain data as an array; getCert with caChain string', async () => {
    reply = ok([interPem, '', rootPem]);
    expect(await client.chain()).toEqual([interPem, rootPem]);
    reply = ok({ serialNo: '0A:0B', commonName: 'x', notBeforeDate: 1721105212000, notAfterDate: '2036465242000', certPem: leafPem, caChain: interPem + rootPem });
    const info = await client.getCert('0A:0B');
    expect(info.notAfter.getTime()).toBe(2036465242000);
    expect(info.caChainPems).toEqual([interPem, rootPem]);
  });

  it('a PCA message that echoes our keys reaches neither the error nor the problem detail', async () => {
    reply = () => ({ status: 401, body: JSON.stringify({ error: { errorCode: '200', message: `Authentication Failed: key ${AK} signature for ${SK}` } }) });
    const err = (await client.sign('csr').catch((e: unknown) => e)) as PcaError;
    expect(err).toMatchObject({ httpStatus: 401, code: '200', reason: 'authentication', pcaMessage: 'Authentication Failed: key [redacted] signature for [redacted]' });
    const detail = problemFromPcaError(err).detail;
    for (const text of [err.message, err.pcaMessage!, detail]) {
      expect(text).not.toContain(AK);
      expect(text).not.toContain(SK);
    }
    expect(detail).toMatch(/pca\.accessKey\/secretKey/);
  });

  it('refuses a non-hex serial before sending', async () => {
    await expect(client.revoke('../../ca')).rejects.toMatchObject({ kind: 'malformed', reason: 'badRequest', retryable: false });
    expect(seen).toHaveLength(0);
  });
});
