import { X509Certificate, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as x509 from '@peculiar/x509';
import { systemClock } from '../../platform/clock.js';
import type { Random } from '../../platform/random.js';
import { NcpPcaClient } from '../ncp-client.js';
import { signatureV2 } from '../signature.js';
import { makeCsr } from '../make-csr.js';
import { planFaults, unitDraw, type FaultEndpoint, type FiredFaults } from './faults.js';
import { startPcaSimulator, type RunningSimulator } from './index.js';
import { isLoopback } from './server.js';

const AK = 'sim-access';
const SK = 'sim-secret';

interface Issued {
  serialNo: string;
  issuedAt: string;
  spkiSha256: string;
  names: string[];
  revoked: boolean;
}

async function raw(
  sim: RunningSimulator,
  method: string,
  target: string,
  opts: { body?: string; sign?: boolean; headerName?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: unknown; text: string; type: string | null }> {
  const ts = String(Date.now());
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.sign !== false) {
    headers['x-ncp-apigw-timestamp'] = ts;
    headers['x-ncp-iam-access-key'] = AK;
    headers[opts.headerName ?? 'x-ncp-apigw-signature-v2'] = signatureV2({ method, uri: target, timestamp: ts, accessKey: AK, secretKey: SK });
  }
  const res = await fetch(`${sim.url}${target}`, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') };
}

const issued = async (sim: RunningSimulator): Promise<Issued[]> => (await fetch(`${sim.url}/_simulator/issued`)).json() as Promise<Issued[]>;
const fired = async (sim: RunningSimulator): Promise<FiredFaults> => (await fetch(`${sim.url}/_simulator/faults/fired`)).json() as Promise<FiredFaults>;

/** What was counted between two snapshots, with the zero entries left out. */
function delta(before: FiredFaults, after: FiredFaults): FiredFaults {
  const out: FiredFaults = {};
  for (const [kind, perEndpoint] of Object.entries(after) as Array<[keyof FiredFaults, Record<string, number>]>) {
    for (const [endpoint, n] of Object.entries(perEndpoint)) {
      const d = n - ((before[kind] as Record<string, number> | undefined)?.[endpoint] ?? 0);
      if (d !== 0) (out[kind] ??= {})[endpoint as FaultEndpoint] = d;
    }
  }
  return out;
}

describe('PCA simulator: HTTP surface', () => {
  let dir: string;
  let sim: RunningSimulator;
  let client: NcpPcaClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-sim-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK });
    client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: AK, secretKey: SK, clock: systemClock });
  });
  afterAll(async () => {
    client.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('persists a random 8hex-8hex caTag, the root at root.pem and 0600 keys', async () => {
    expect(sim.caTag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(sim.rootPemPath).toBe(join(dir, 'root.pem'));
    expect(await readFile(sim.rootPemPath, 'utf8')).toBe(sim.rootPem);
    for (const k of ['root.key.pem', 'intermediate.key.pem']) expect((await stat(join(dir, 'ca', k))).mode & 0o777).toBe(0o600);
    const root = new x509.X509Certificate(sim.rootPem);
    expect(root.subject).toContain('CN=acme-pca-gateway Simulator Root CA');
    expect(await root.isSelfSigned()).toBe(true);
    const [inter] = await client.chain();
    const bc = new x509.X509Certificate(inter!).getExtension(x509.BasicConstraintsExtension)!;
    expect(bc).toMatchObject({ ca: true, pathLength: 0, critical: true });
  });

  it('unknown path → 404 gateway error 300; body over 64 KiB → 413 errorCode 430', async () => {
    const r = await raw(sim, 'GET', '/api/v1/nope');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { errorCode: '300', message: 'Not Found Exception', details: expect.any(String) } });
    const big = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`, { body: JSON.stringify({ csrPem: 'x'.repeat(70_000) }) });
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ error: { errorCode: '430' } });
  });

  it('missing auth headers → 401 errorCode 200; the -v1 signature header is accepted', async () => {
    const r = await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`, { sign: false });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ error: { errorCode: '200', message: 'Authentication Failed' } });
    const v1 = await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`, { headerName: 'x-ncp-apigw-signature-v1' });
    expect(v1.status).toBe(200);
    expect(v1.json).toMatchObject({ code: 'SUCCESS', msg: 'Success' });
  });

  it('signs over the request-target as received (query included)', async () => {
    const ts = String(Date.now());
    const res = await fetch(`${sim.url}/api/v1/ca?pageNo=1`, {
      headers: {
        'x-ncp-apigw-timestamp': ts,
        'x-ncp-iam-access-key': AK,
        // signed without the query, like the generated Go client (ncp-pca-api §4.6): rejected
        'x-ncp-apigw-signature-v2': signatureV2({ method: 'GET', uri: '/api/v1/ca', timestamp: ts, accessKey: AK, secretKey: SK }),
      },
    });
    expect(res.status).toBe(401);
  });

  it('GET /ca and GET /ca/{caTag} describe the CA', async () => {
    const list = (await raw(sim, 'GET', '/api/v1/ca?pageNo=1')).json as { data: { totalCnt: number; caInfoList: Array<{ caInfo: { caTag: string } }> } };
    expect(list.data.totalCnt).toBe(1);
    expect(list.data.caInfoList[0]!.caInfo.caTag).toBe(sim.caTag);
    const one = (await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}`)).json as { data: { caInfo: Record<string, unknown>; caCertInfo: Record<string, unknown> } };
    expect(one.data.caInfo).toMatchObject({ caType: 'PRIVATE_SUB', status: 'ACTIVE', urlInfo: { crl: [`${sim.url}/ext/${sim.caTag}/crl`] } });
    expect(one.data.caCertInfo).toMatchObject({ commonName: 'acme-pca-gateway Simulator Intermediate CA', publicKeyAlgorithm: 'EC' });
    expect((await raw(sim, 'GET', '/api/v1/ca/ffffffff-ffffffff')).json).toEqual({ code: 'NOT_FOUND', msg: 'ca not found.', data: null });
  });

  it('sign: response shape; period only in the body and only as documented (a string of days, or MAX); bad JSON', async () => {
    const csr = await makeCsr(['shape.example.test']);
    const r = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`, { body: JSON.stringify({ csrPem: csr.csrPem, period: '10' }) });
    expect(r.status).toBe(200);
    const data = (r.json as { data: { certificate: string; caChain: string[]; issuer: string; ocspResponder: string; serialNo: string } }).data;
    expect(data.caChain).toHaveLength(2);
    expect(data.issuer).toBe(data.caChain[0]);
    expect(data.caChain[1]).toBe(sim.rootPem);
    expect(data.ocspResponder).toBe('');
    const leaf = new x509.X509Certificate(data.certificate);
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(10 * 86_400_000 + 60_000);
    expect(leaf.getExtension(x509.CRLDistributionPointsExtension)).not.toBeNull();

    const max = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`, { body: JSON.stringify({ csrPem: csr.csrPem, period: 'MAX' }) });
    expect(max.status).toBe(200);

    // ncp-pca-api §3: a string of days; the SDK's query form and a JSON number are not the documented shape.
    const q = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign?period=5`, { body: JSON.stringify({ csrPem: csr.csrPem }) });
    expect(q.status).toBe(400);
    expect(q.json).toMatchObject({ code: 'INVALID_INPUT_PERIOD', msg: 'period goes in the request body.' });
    for (const period of ['0', '3651', 'abc', '010', 'max', 'Max', 10, 1.5, null]) {
      const bad = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`, { body: JSON.stringify({ csrPem: csr.csrPem, period }) });
      expect(bad.status).toBe(400);
      expect(bad.json).toMatchObject({ code: 'INVALID_INPUT_PERIOD', data: null });
    }
    const notJson = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`, { body: '{' });
    expect(notJson.json).toMatchObject({ code: 'INVALID_REQUEST' });
    const noBody = await raw(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`);
    expect(noBody.json).toEqual({ code: 'EMPTY_CSR', msg: 'csr is missing.', data: null });
  });

  it('Content-Type application/json is required on every call, GET included (§1.2)', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': '' }]) {
      const r = await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`, { headers });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: 'INVALID_REQUEST', data: null });
    }
    expect((await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`, { headers: { 'content-type': 'application/json; charset=UTF-8' } })).status).toBe(200);
  });

  it('serials only as documented (raw upper-case colon hex); getCert fields per §3.5; list pagination', async () => {
    const res = await client.sign((await makeCsr(['pct.example.test'])).csrPem);
    const got = await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert/${res.serialNo}`);
    const data = (got.json as { data: Record<string, unknown> }).data;
    expect(data).toMatchObject({ serialNo: res.serialNo, commonName: 'pct.example.test', publicKeyAlgorithm: 'EC', signatureAlgorithm: 'SHA256withECDSA', ocspResponder: '' });
    expect(typeof data.notBeforeDate).toBe('number');
    expect(typeof data.caChain).toBe('string');
    for (const spelling of [encodeURIComponent(res.serialNo), res.serialNo.toLowerCase(), res.serialNo.replace(/:/g, '')]) {
      const r = await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert/${spelling}`);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: 'INVALID_INPUT_SERIAL_NO' });
    }
    const page2 = await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=2`);
    expect((page2.json as { data: unknown }).data).toMatchObject({ listCerts: [], currentPageNo: 2 });
    expect((await raw(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=0`)).json).toMatchObject({ code: 'INVALID_INPUT_PAGENUMBBER' });
  });

  it('/ext/{caTag}/crl (DER) and /ext/{caTag}/ca (root DER) need no auth', async () => {
    const res = await client.sign((await makeCsr(['ext.example.test'])).csrPem);
    await client.revoke(res.serialNo);
    const crlRes = await fetch(`${sim.url}/ext/${sim.caTag}/crl`);
    expect(crlRes.headers.get('content-type')).toBe('application/pkix-crl');
    const crl = new x509.X509Crl(new Uint8Array(await crlRes.arrayBuffer()));
    expect(crl.findRevoked(res.serialNo.replace(/:/g, '').toLowerCase())).not.toBeNull();
    const caRes = await fetch(`${sim.url}/ext/${sim.caTag}/ca`);
    expect(new X509Certificate(Buffer.from(await caRes.arrayBuffer())).fingerprint256).toBe(new X509Certificate(sim.rootPem).fingerprint256);
    expect((await fetch(`${sim.url}/ext/ffffffff-ffffffff/crl`)).status).toBe(404);
  });

  it('admin endpoints: issued list, fault config validation', async () => {
    const csr = await makeCsr(['admin.example.test', '2001:db8::1']);
    const res = await client.sign(csr.csrPem);
    const entry = (await issued(sim)).find((e) => e.serialNo === res.serialNo)!;
    expect(entry).toMatchObject({ spkiSha256: csr.spkiSha256, names: ['admin.example.test', '2001:db8::1'], revoked: false });
    expect(new Date(entry.issuedAt).toISOString()).toBe(entry.issuedAt);
    const bad = await fetch(`${sim.url}/_simulator/faults`, { method: 'PUT', body: JSON.stringify({ errorRate: 2 }) });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${sim.url}/_simulator/faults`, { method: 'PUT', body: JSON.stringify({ bogus: 1 }) });
    expect(unknown.status).toBe(400);
    expect(await (await fetch(`${sim.url}/_simulator/faults`)).json()).toEqual({});
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.2')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isLoopback('::ffff:192.168.1.1')).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });
});

describe('PCA simulator: restart', () => {
  it('keeps the CA, the caTag, issued certs and revocations across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pca-sim-restart-'));
    try {
      const first = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK });
      const c1 = new NcpPcaClient({ endpoint: first.url, caTag: first.caTag, accessKey: AK, secretKey: SK, clock: systemClock });
      const a = await c1.sign((await makeCsr(['a.example.test'])).csrPem);
      const b = await c1.sign((await makeCsr(['b.example.test'])).csrPem);
      await c1.revoke(a.serialNo);
      const chain1 = await c1.chain();
      c1.close();
      await first.close();

      const second = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK });
      const c2 = new NcpPcaClient({ endpoint: second.url, caTag: second.caTag, accessKey: AK, secretKey: SK, clock: systemClock });
      expect(second.caTag).toBe(first.caTag);
      expect(second.rootPem).toBe(first.rootPem);
      expect(await c2.chain()).toEqual(chain1);
      expect((await c2.listCerts()).serials).toEqual([a.serialNo, b.serialNo]);
      expect((await c2.getCert(b.serialNo)).certPem).toBe(b.leafPem);
      expect((await issued(second)).map((e) => e.revoked)).toEqual([true, false]);
      const crl = new x509.X509Crl(await c2.crl());
      expect(crl.entries).toHaveLength(1);
      // certificates issued after the restart chain to the same CA
      const c = await c2.sign((await makeCsr(['c.example.test'])).csrPem);
      expect(c.chainPems).toEqual(a.chainPems);
      c2.close();
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses an explicit caTag when given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pca-sim-tag-'));
    const sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK, caTag: '4b0bbe37-eeea93b8', tiers: 1 });
    expect(sim.caTag).toBe('4b0bbe37-eeea93b8');
    const r = await raw(sim, 'GET', '/api/v1/ca/4b0bbe37-eeea93b8/chain');
    expect((r.json as { data: string }).data).toBe(sim.rootPem);
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('PCA simulator: fault injection', () => {
  let dir: string;
  let sim: RunningSimulator;
  let client: NcpPcaClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-sim-faults-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK, faults: { latencyMs: 0 } });
    client = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: AK, secretKey: SK, clock: systemClock, timeoutMs: 400 });
  });
  afterEach(() => sim.faults.set({}));
  afterAll(async () => {
    client.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  const setFaults = async (c: object): Promise<void> => {
    const r = await fetch(`${sim.url}/_simulator/faults`, { method: 'PUT', body: JSON.stringify(c) });
    expect(r.status).toBe(200);
  };

  it('latencyMs holds the answer back, and then answers normally', async () => {
    await setFaults({ latencyMs: 1_000, endpoints: ['chain'] });
    const patient = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: AK, secretKey: SK, clock: systemClock, timeoutMs: 30_000 });
    try {
      const before = await fired(sim);
      let chainSettled = false;
      const chain = patient.chain().finally(() => (chainSettled = true));
      // A request to an endpoint without the fault, sent after, is answered while chain is still held.
      await expect(patient.listCerts()).resolves.toBeTruthy();
      expect(chainSettled).toBe(false);
      await expect(chain).resolves.toHaveLength(2);
      expect(delta(before, await fired(sim))).toEqual({ latency: { chain: 1 } });
    } finally {
      patient.close();
    }
  });

  it('errorRate answers errorStatus/errorCode: envelope for enum codes, gateway shape for numeric ones', async () => {
    await setFaults({ errorRate: 1 });
    const csr = (await makeCsr(['err.example.test'])).csrPem;
    await expect(client.sign(csr)).rejects.toMatchObject({ kind: 'http', httpStatus: 500, code: 'INTERNAL_SERVER_ERROR', retryable: true });
    sim.faults.set({ errorRate: 1, errorStatus: 429, errorCode: '410' });
    await expect(client.sign(csr)).rejects.toMatchObject({ httpStatus: 429, code: '410', retryable: true });
    expect(await issued(sim)).toHaveLength(0);
    // only 'sign' is faulted by default
    await expect(client.chain()).resolves.toHaveLength(2);
  });

  it('timeoutRate accepts and never answers; nothing is issued', async () => {
    await setFaults({ timeoutRate: 1 });
    const before = (await issued(sim)).length;
    await expect(client.sign((await makeCsr(['to.example.test'])).csrPem)).rejects.toMatchObject({ kind: 'timeout', outcomeUnknown: true });
    expect(await issued(sim)).toHaveLength(before);
  });

  it('malformedRate: 200 with invalid JSON, after the work is done', async () => {
    await setFaults({ malformedRate: 1 });
    const csr = await makeCsr(['mal.example.test']);
    await expect(client.sign(csr.csrPem)).rejects.toMatchObject({ kind: 'malformed', retryable: true });
    expect((await issued(sim)).some((e) => e.spkiSha256 === csr.spkiSha256)).toBe(true);
  });

  it('wrongKeyRate certifies a different key than the CSR', async () => {
    await setFaults({ wrongKeyRate: 1 });
    const csr = await makeCsr(['wk.example.test']);
    const res = await client.sign(csr.csrPem);
    const spki = new X509Certificate(res.leafPem).publicKey.export({ type: 'spki', format: 'der' });
    const leafSpki = createHash('sha256').update(spki).digest('hex');
    expect(leafSpki).not.toBe(csr.spkiSha256);
    const entry = (await issued(sim)).find((e) => e.serialNo === res.serialNo)!;
    expect(entry.spkiSha256).toBe(leafSpki);
  });

  it('dropAfterSignRate issues and persists, then drops the connection', async () => {
    await setFaults({ dropAfterSignRate: 1 });
    const csr = await makeCsr(['drop.example.test']);
    await expect(client.sign(csr.csrPem)).rejects.toMatchObject({ kind: 'network', outcomeUnknown: true });
    const entry = (await issued(sim)).find((e) => e.spkiSha256 === csr.spkiSha256);
    expect(entry?.names).toEqual(['drop.example.test']);
    // reconcile: the certificate is there
    await setFaults({});
    expect((await client.listCerts()).serials).toContain(entry!.serialNo);
  });

  it('endpoints selects which APIs are faulted', async () => {
    await setFaults({ errorRate: 1, endpoints: ['crl', 'revoke', 'get', 'list'] });
    await expect(client.crl()).rejects.toMatchObject({ httpStatus: 500 });
    await expect(client.listCerts()).rejects.toMatchObject({ httpStatus: 500 });
    await expect(client.getCert('01')).rejects.toMatchObject({ httpStatus: 500 });
    await expect(client.revoke('01')).rejects.toMatchObject({ httpStatus: 500 });
    await expect(client.sign((await makeCsr(['ok.example.test'])).csrPem)).resolves.toBeTruthy();
    await expect(client.chain()).resolves.toHaveLength(2);
  });

  it('counts the faults that took effect, per kind and endpoint (GET /_simulator/faults/fired)', async () => {
    const csr = async () => (await makeCsr(['fired.example.test'])).csrPem;
    let before = await fired(sim);
    await setFaults({ wrongKeyRate: 1 });
    await client.sign(await csr());
    expect(delta(before, await fired(sim))).toEqual({ wrongKey: { sign: 1 } });

    // An error answered first means the sign work never happened: no wrong key to count.
    before = await fired(sim);
    await setFaults({ errorRate: 1, wrongKeyRate: 1, dropAfterSignRate: 1 });
    await expect(client.sign(await csr())).rejects.toMatchObject({ httpStatus: 500 });
    expect(delta(before, await fired(sim))).toEqual({ error: { sign: 1 } });

    // A dropped connection leaves no answer to malform.
    before = await fired(sim);
    await setFaults({ dropAfterSignRate: 1, malformedRate: 1 });
    await expect(client.sign(await csr())).rejects.toMatchObject({ kind: 'network' });
    expect(delta(before, await fired(sim))).toEqual({ dropAfterSign: { sign: 1 } });

    before = await fired(sim);
    await setFaults({ malformedRate: 1, endpoints: ['list'] });
    await expect(client.listCerts()).rejects.toMatchObject({ kind: 'malformed' });
    expect(delta(before, await fired(sim))).toEqual({ malformed: { list: 1 } });

    before = await fired(sim);
    await setFaults({ timeoutRate: 1, endpoints: ['get'] });
    await expect(client.getCert('01')).rejects.toMatchObject({ kind: 'timeout' });
    expect(delta(before, await fired(sim))).toEqual({ timeout: { get: 1 } });
  });

  it('close() ends requests held open by the timeout fault', async () => {
    const d = await mkdtemp(join(tmpdir(), 'pca-sim-close-'));
    const s = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: d, accessKey: AK, secretKey: SK, faults: { timeoutRate: 1, latencyMs: 10_000, endpoints: ['chain'] } });
    const c = new NcpPcaClient({ endpoint: s.url, caTag: s.caTag, accessKey: AK, secretKey: SK, clock: systemClock, timeoutMs: 5000 });
    const pending = c.chain();
    // Wait until the request is held (the latency fault has fired), then close.
    while (!(await fired(s)).latency?.chain) await new Promise((r) => setTimeout(r, 10));
    await s.close();
    // 'network' (the socket was torn down), not 'timeout': close() did not wait for the client's 5 s.
    await expect(pending).rejects.toMatchObject({ kind: 'network' });
    c.close();
    await rm(d, { recursive: true, force: true });
  });
});

describe('fault planning (injected Random)', () => {
  const constant = (byte: number): Random => ({ bytes: (n) => Buffer.alloc(n, byte) });

  it('draws uniformly from 48 bits', () => {
    expect(unitDraw(constant(0))).toBe(0);
    expect(unitDraw(constant(0xff))).toBeLessThan(1);
    expect(unitDraw(constant(0x80))).toBeCloseTo(0.502, 2);
  });

  it('rates compare against the draw; unset rates draw nothing', () => {
    let draws = 0;
    const counting: Random = { bytes: (n) => (draws++, Buffer.alloc(n, 0x40)) }; // ≈ 0.25
    const plan = planFaults({ errorRate: 0.3, malformedRate: 0.2 }, 'sign', counting);
    expect(plan.error).toEqual({ status: 500, code: 'INTERNAL_SERVER_ERROR' });
    expect(plan.malformed).toBe(false);
    expect(draws).toBe(2);
    expect(planFaults({ errorRate: 1 }, 'crl', counting).error).toBeUndefined(); // not in default endpoints
    expect(planFaults({ wrongKeyRate: 1, dropAfterSignRate: 1, endpoints: ['get'] }, 'get', counting)).toMatchObject({ wrongKey: false, dropAfterSign: false });
  });
});
