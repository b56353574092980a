import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as x509 from '@peculiar/x509';
import { makeCsr, type CsrKeyType } from '../make-csr.js';
import { signatureV2 } from '../signature.js';
import { RateLimiter } from './behaviour.js';
import { startPcaSimulator, type RunningSimulator } from './index.js';

// Each switchable behaviour of the simulator (behaviour.ts), as the wire shows it: set through the
// fault endpoint (PUT /_simulator/faults {"behaviour": ...}) over what was configured, and back to
// the configuration when the faults are cleared. How the gateway copes with each is shown beside
// the code that copes (jobs/, pca/, cli/ tests).

const AK = 'beh-access';
const SK = 'beh-secret';
const DAY = 86_400_000;

interface Answer {
  status: number;
  json: { code?: string; msg?: string; data?: any; error?: { errorCode: string; message: string; details: string } };
  date: string | null;
}

async function call(sim: RunningSimulator, method: 'GET' | 'POST', target: string, body?: unknown, ts = Date.now()): Promise<Answer> {
  const timestamp = String(ts);
  const res = await fetch(`${sim.url}${target}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'x-ncp-apigw-timestamp': timestamp,
      'x-ncp-iam-access-key': AK,
      'x-ncp-apigw-signature-v2': signatureV2({ method, uri: target, timestamp, accessKey: AK, secretKey: SK }),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Answer['json'], date: res.headers.get('date') };
}

describe('PCA simulator behaviours', () => {
  let dir: string;
  let sim: RunningSimulator;
  const sign = (sim: RunningSimulator, body: Record<string, unknown>) => call(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/sign`, body);
  const csrOf = async (keyType: CsrKeyType = 'P256') => (await makeCsr([`${keyType.toLowerCase()}.beh.test`], { keyType })).csrPem;
  const setBehaviour = async (behaviour: object): Promise<void> => {
    const r = await fetch(`${sim.url}/_simulator/faults`, { method: 'PUT', body: JSON.stringify({ behaviour }) });
    expect(r.status).toBe(200);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pca-sim-beh-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: dir, accessKey: AK, secretKey: SK });
  });
  afterEach(() => sim.faults.set({}));
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('strict by default: the CA signs keys of its own type only (keyRule ca), naming it', async () => {
    expect(sim.behaviour()).toMatchObject({ keyRule: 'ca', listPaging: 'honoured', listOrder: 'oldest-first', caChain: 'array', caStatus: 'ACTIVE' });
    expect((await sign(sim, { csrPem: await csrOf('P256') })).status).toBe(200);
    for (const keyType of ['P384', 'P521', 'RSA2048'] as const) {
      const r = await sign(sim, { csrPem: await csrOf(keyType) });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: 'INVALID_X509_KEY_TYPE' });
      expect(r.json.msg).toMatch(/^this CA signs EC256 keys only; the CSR has (EC384|EC521|RSA2048)\.$/);
    }
  });

  it('keyRule any: every key the simulator can sign, P-521 included', async () => {
    await setBehaviour({ keyRule: 'any' });
    for (const keyType of ['P384', 'P521', 'RSA2048'] as const) expect((await sign(sim, { csrPem: await csrOf(keyType) })).status).toBe(200);
    // Keys no PCA documents stay refused.
    expect((await sign(sim, { csrPem: await csrOf('Ed25519') })).json).toMatchObject({ code: 'INVALID_X509_KEY_TYPE' });
  });

  it("keyType/keyBits as NAVER's issuer sends them must describe the CA's key", async () => {
    const csrPem = await csrOf('P256');
    expect((await sign(sim, { csrPem, period: '30', keyType: 'ECDSA', keyBits: '256' })).status).toBe(200);
    for (const fields of [{ keyType: 'RSA', keyBits: '2048' }, { keyType: 'ECDSA', keyBits: '384' }, { keyType: 'EC', keyBits: '256' }, { keyType: 'ECDSA', keyBits: 256 }, { keyType: 'ECDSA' }]) {
      const r = await sign(sim, { csrPem, ...fields });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: 'INVALID_X509_KEY_TYPE' });
    }
  });

  it('listPaging ignored: every pageNo answers page 1, and says so', async () => {
    for (let i = 0; i < 102; i++) await sign(sim, { csrPem: await csrOf() });
    const honoured = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=2`);
    expect(honoured.json.data).toMatchObject({ currentPageNo: 2, totalPageNo: expect.any(Number) });
    const page1 = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=1`);
    await setBehaviour({ listPaging: 'ignored' });
    const ignored = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=2`);
    expect(ignored.json.data).toEqual({ ...page1.json.data, currentPageNo: 1 });
    expect(honoured.json.data.listCerts).not.toEqual(page1.json.data.listCerts);
  });

  it('listOrder newest-first: the list runs from the latest certificate back', async () => {
    const oldest = (await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=1`)).json.data.listCerts as string[];
    await setBehaviour({ listOrder: 'newest-first' });
    const first = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=1`);
    const pages = first.json.data.totalPageNo as number;
    const last = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=${pages}`);
    expect((last.json.data.listCerts as string[]).at(-1)).toBe(oldest[0]);
    const issued = (await (await fetch(`${sim.url}/_simulator/issued`)).json()) as Array<{ serialNo: string }>;
    expect((first.json.data.listCerts as string[])[0]).toBe(issued.at(-1)!.serialNo);
  });

  it('caChain string: the sign answer carries the chain as one PEM string', async () => {
    await setBehaviour({ caChain: 'string' });
    const r = await sign(sim, { csrPem: await csrOf() });
    expect(typeof r.json.data.caChain).toBe('string');
    expect(r.json.data.caChain).toBe(`${r.json.data.issuer}${sim.rootPem}`);
  });

  it('caStatus DISABLED: Get CA says so and sign is refused with INVALID_CA_STATUS', async () => {
    await setBehaviour({ caStatus: 'DISABLED' });
    expect((await call(sim, 'GET', `/api/v1/ca/${sim.caTag}`)).json.data.caInfo.status).toBe('DISABLED');
    const r = await sign(sim, { csrPem: await csrOf() });
    expect(r).toMatchObject({ status: 400, json: { code: 'INVALID_CA_STATUS', msg: 'the CA is DISABLED, not ACTIVE.' } });
    sim.faults.set({});
    expect((await call(sim, 'GET', `/api/v1/ca/${sim.caTag}`)).json.data.caInfo.status).toBe('ACTIVE');
  });

  it('caExpiresInDays: Get CA reports the near end; a period past it is refused, MAX stops at it', async () => {
    await setBehaviour({ caExpiresInDays: 20 });
    const before = Date.now();
    const ca = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}`);
    const end = ca.json.data.caCertInfo.notAfterDate as number;
    expect(Math.abs(end - (before + 20 * DAY))).toBeLessThan(5_000);
    expect((await sign(sim, { csrPem: await csrOf(), period: '21' })).json).toMatchObject({ code: 'EXCEED_EXPIRY_DATE' });
    expect((await sign(sim, { csrPem: await csrOf(), period: '19' })).status).toBe(200);
    const max = await sign(sim, { csrPem: await csrOf(), period: 'MAX' });
    expect(Math.abs(new x509.X509Certificate(max.json.data.certificate).notAfter.getTime() - end)).toBeLessThan(5_000);
  });

  it('rateLimitPerSecond: 429 errorCode 420 past N calls in a second', async () => {
    await setBehaviour({ rateLimitPerSecond: 3 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    expect(answers.find((a) => a.status === 429)?.json).toEqual({ error: { errorCode: '420', message: 'Rate Limited', details: 'more than 3 calls per second' } });
    const limiter = new RateLimiter();
    expect([0, 10, 20, 30].map((t) => limiter.admit(t, 3))).toEqual([true, true, true, false]);
    expect(limiter.admit(1_001, 3)).toBe(true);
  });

  it("clockOffsetMs: the PCA's Date header and timestamp check run on its own clock", async () => {
    await setBehaviour({ clockOffsetMs: 10 * 60_000 });
    const r = await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`);
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ errorCode: '200', details: 'timestamp is out of the allowed range' });
    expect(Math.abs(new Date(r.date!).getTime() - (Date.now() + 10 * 60_000))).toBeLessThan(3_000);
    expect((await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/chain`, undefined, Date.now() + 10 * 60_000)).status).toBe(200);
  });

  it('crlCycleMs: a revocation reaches the CRL at the next cycle, or at once on POST /crl/rotate', async () => {
    await setBehaviour({ crlCycleMs: 3_600_000 });
    const issued = await sign(sim, { csrPem: await csrOf() });
    const serial = issued.json.data.serialNo as string;
    const listed = async () => {
      const pem = (await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/crl`)).json.data as string;
      return new x509.X509Crl(pem).findRevoked(serial.replace(/:/g, '').toLowerCase()) !== null;
    };
    expect(await listed()).toBe(false);
    expect((await call(sim, 'POST', `/api/v1/ca/${sim.caTag}/cert/${serial}/revoke`)).status).toBe(200);
    expect(await listed()).toBe(false);
    expect((await call(sim, 'POST', `/api/v1/ca/${sim.caTag}/crl/rotate`)).json).toEqual({ code: 'SUCCESS', msg: 'Success', data: null });
    expect(await listed()).toBe(true);
  });

  it('configured behaviours hold until the fault endpoint overrides them; clearing the faults restores them', async () => {
    const d = await mkdtemp(join(tmpdir(), 'pca-sim-beh-conf-'));
    const s = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: d, accessKey: AK, secretKey: SK, behaviour: { keyRule: 'any', caStatus: 'DEACTIVATED' } });
    try {
      expect(s.behaviour()).toMatchObject({ keyRule: 'any', caStatus: 'DEACTIVATED' });
      s.faults.set({ behaviour: { caStatus: 'ACTIVE' } });
      expect(s.behaviour()).toMatchObject({ keyRule: 'any', caStatus: 'ACTIVE' });
      s.faults.set({});
      expect(s.behaviour()).toMatchObject({ keyRule: 'any', caStatus: 'DEACTIVATED' });
      const bad = await fetch(`${s.url}/_simulator/faults`, { method: 'PUT', body: JSON.stringify({ behaviour: { listPaging: 'sometimes' } }) });
      expect(bad.status).toBe(400);
    } finally {
      await s.close();
      await rm(d, { recursive: true, force: true });
    }
  });

  it('GET /_simulator/calls counts the API calls per endpoint', async () => {
    const before = (await (await fetch(`${sim.url}/_simulator/calls`)).json()) as Record<string, number>;
    await call(sim, 'GET', `/api/v1/ca/${sim.caTag}`);
    await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=1`);
    await call(sim, 'GET', `/api/v1/ca/${sim.caTag}/cert?pageNo=2`);
    const after = (await (await fetch(`${sim.url}/_simulator/calls`)).json()) as Record<string, number>;
    expect((after.ca ?? 0) - (before.ca ?? 0)).toBe(1);
    expect((after.list ?? 0) - (before.list ?? 0)).toBe(2);
  });
});
