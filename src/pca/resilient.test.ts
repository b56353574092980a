import { describe, expect, it } from 'vitest';
import { ManualClock } from '../platform/clock.js';
import { PcaError } from './errors.js';
import { ResilientPcaClient, type ResilientPcaOptions } from './resilient.js';
import type { PcaCaInfo, PcaCertInfo, PcaCertPage, PcaClient, PcaSignResult } from './types.js';

/** A PcaClient whose answers are scripted per call. */
class ScriptedPca implements PcaClient {
  calls: string[] = [];
  script: Array<Error | 'ok'> = [];
  private next(op: string): void {
    this.calls.push(op);
    const step = this.script.shift() ?? 'ok';
    if (step !== 'ok') throw step;
  }
  async sign(): Promise<PcaSignResult> {
    this.next('sign');
    return { serialNo: '01', leafPem: 'leaf', chainPems: ['ca'] };
  }
  async chain(): Promise<string[]> {
    this.next('chain');
    return ['ca'];
  }
  async revoke(): Promise<void> {
    this.next('revoke');
  }
  async getCert(serialNo: string): Promise<PcaCertInfo> {
    this.next('getCert');
    return { serialNo, commonName: '', notBefore: new Date(0), notAfter: new Date(0), certPem: '', caChainPems: [], revoked: null };
  }
  async listCerts(): Promise<PcaCertPage> {
    this.next('listCerts');
    return { serials: [], totalCnt: 0, totalPageNo: 0, currentPageNo: 1 };
  }
  async crl(): Promise<string> {
    this.next('crl');
    return 'crl';
  }
  async getCa(): Promise<PcaCaInfo> {
    this.next('getCa');
    return { caTag: 't', status: 'ACTIVE', caType: null, subject: '', publicKeyAlgorithm: 'EC', key: null, notBefore: new Date(0), notAfter: new Date(0), certPem: null, crlUrls: [], ocspUrls: [] };
  }
  async rotateCrl(): Promise<void> {
    this.next('rotateCrl');
  }
}

const http = (status: number, code?: string): PcaError => new PcaError('http', `HTTP ${status}`, { httpStatus: status, ...(code ? { code } : {}) });
const timeout = (): PcaError => new PcaError('timeout', 'timed out');

function setup(overrides: Partial<ResilientPcaOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const sleeps: number[] = [];
  const inner = new ScriptedPca();
  const client = new ResilientPcaClient(inner, {
    clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
    random: () => 0.5,
    maxAttempts: 4,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    deadlineMs: 10_000,
    breakerThreshold: 3,
    breakerCooldownMs: 5000,
    ...overrides,
  });
  return { clock, sleeps, inner, client };
}

describe('ResilientPcaClient retries', () => {
  it('retries retryable errors with exponential backoff and full jitter', async () => {
    const { client, inner, sleeps } = setup({ breakerThreshold: 10 });
    inner.script = [timeout(), http(503), new PcaError('network', 'reset'), 'ok'];
    await expect(client.chain()).resolves.toEqual(['ca']);
    expect(inner.calls).toEqual(['chain', 'chain', 'chain', 'chain']);
    // random()=0.5 times caps 100, 200, 400
    expect(sleeps).toEqual([50, 100, 200]);
  });

  it('caps the delay at maxDelayMs', async () => {
    const { client, inner, sleeps } = setup({ maxAttempts: 6, breakerThreshold: 10, random: () => 0.999 });
    inner.script = [timeout(), timeout(), timeout(), timeout(), timeout(), 'ok'];
    await client.crl();
    expect(sleeps).toEqual([99, 199, 399, 799, 999]);
  });

  it('retries 429 and malformed responses', async () => {
    const { client, inner } = setup();
    inner.script = [http(429, '410'), new PcaError('malformed', 'bad json'), 'ok'];
    await expect(client.getCert('01')).resolves.toMatchObject({ serialNo: '01' });
    expect(inner.calls).toHaveLength(3);
  });

  it('429s (throttling) are retried but never open the breaker: the PCA answered', async () => {
    const { client, inner } = setup({ breakerThreshold: 2, maxAttempts: 1 });
    for (let i = 0; i < 5; i++) {
      inner.script = [http(429, '420')];
      await expect(client.chain()).rejects.toMatchObject({ httpStatus: 429 });
    }
    expect(client.breakerState()).toBe('closed');
    await expect(client.chain()).resolves.toEqual(['ca']);
  });

  it('never retries a non-retryable 4xx', async () => {
    const { client, inner, sleeps } = setup();
    inner.script = [http(400, 'INVALID_STATUS')];
    await expect(client.revoke('01')).rejects.toMatchObject({ kind: 'http', httpStatus: 400, code: 'INVALID_STATUS' });
    expect(inner.calls).toEqual(['revoke']);
    expect(sleeps).toEqual([]);
  });

  it('never retries a malformed request', async () => {
    const { client, inner } = setup();
    inner.script = [new PcaError('malformed', 'bad serial', { retryable: false })];
    await expect(client.getCert('x')).rejects.toMatchObject({ kind: 'malformed', retryable: false });
    expect(inner.calls).toHaveLength(1);
  });

  it('gives up after maxAttempts and rethrows the last error', async () => {
    const { client, inner } = setup({ breakerThreshold: 10 });
    inner.script = [timeout(), timeout(), timeout(), http(502), 'ok'];
    await expect(client.listCerts()).rejects.toMatchObject({ httpStatus: 502 });
    expect(inner.calls).toHaveLength(4);
  });

  it('does not start a retry past the per-call deadline', async () => {
    const { client, inner, sleeps } = setup({ deadlineMs: 120, random: () => 0.99, breakerThreshold: 10 });
    inner.script = [timeout(), timeout(), 'ok'];
    await expect(client.chain()).rejects.toMatchObject({ kind: 'timeout' });
    expect(sleeps).toEqual([99]); // the second delay (198) would end past 120 ms
    expect(inner.calls).toHaveLength(2);
  });

  it('does not retry sign by default (a lost answer may have issued)', async () => {
    const { client, inner } = setup();
    inner.script = [timeout(), 'ok'];
    await expect(client.sign('csr')).rejects.toMatchObject({ kind: 'timeout', outcomeUnknown: true });
    expect(inner.calls).toEqual(['sign']);
  });

  it('retries sign when retrySign is set', async () => {
    const { client, inner } = setup({ retrySign: true });
    inner.script = [http(500), 'ok'];
    await expect(client.sign('csr')).resolves.toMatchObject({ serialNo: '01' });
    expect(inner.calls).toEqual(['sign', 'sign']);
  });

  it('stops retrying when the caller aborted', async () => {
    const { client, inner } = setup({ retrySign: true });
    const ac = new AbortController();
    ac.abort();
    inner.script = [timeout(), 'ok'];
    await expect(client.sign('csr', { signal: ac.signal })).rejects.toMatchObject({ kind: 'timeout' });
    expect(inner.calls).toHaveLength(1);
  });
});

describe('ResilientPcaClient circuit breaker', () => {
  it('opens after N consecutive failures, fails fast, half-opens after cooldown, closes on success', async () => {
    const { client, inner, clock } = setup({ maxAttempts: 1 });
    inner.script = [timeout(), http(500), new PcaError('network', 'refused')];
    for (let i = 0; i < 3; i++) await expect(client.chain()).rejects.toBeInstanceOf(PcaError);
    expect(client.breakerState()).toBe('open');

    await expect(client.chain()).rejects.toMatchObject({ kind: 'circuitOpen' });
    expect(inner.calls).toHaveLength(3); // the refused call never reached the PCA

    clock.advance(5000);
    expect(client.breakerState()).toBe('half-open');
    await expect(client.chain()).resolves.toEqual(['ca']);
    expect(client.breakerState()).toBe('closed');
  });

  it('a failed half-open probe re-opens the breaker for another cooldown', async () => {
    const { client, inner, clock } = setup({ maxAttempts: 1 });
    inner.script = [timeout(), timeout(), timeout(), timeout()];
    for (let i = 0; i < 3; i++) await expect(client.crl()).rejects.toMatchObject({ kind: 'timeout' });
    clock.advance(5000);
    await expect(client.crl()).rejects.toMatchObject({ kind: 'timeout' });
    expect(client.breakerState()).toBe('open');
    clock.advance(4999);
    await expect(client.crl()).rejects.toMatchObject({ kind: 'circuitOpen' });
  });

  it('lets only one probe through while half-open', async () => {
    const clock = new ManualClock();
    let release!: () => void;
    const inner = new ScriptedPca();
    inner.script = [timeout()];
    inner.chain = () => new Promise<string[]>((r) => (release = () => r(['ca'])));
    const c = new ResilientPcaClient(inner, { clock, maxAttempts: 1, breakerThreshold: 1, breakerCooldownMs: 10 });
    await expect(c.crl()).rejects.toMatchObject({ kind: 'timeout' });
    expect(c.breakerState()).toBe('open');
    clock.advance(10);
    const probe = c.chain();
    await expect(c.crl()).rejects.toMatchObject({ kind: 'circuitOpen' });
    release();
    await expect(probe).resolves.toEqual(['ca']);
    expect(c.breakerState()).toBe('closed');
    await expect(c.crl()).resolves.toBe('crl');
  });

  it('4xx answers do not count as failures', async () => {
    const { client, inner } = setup({ maxAttempts: 1 });
    inner.script = [timeout(), timeout(), http(404, 'NOT_FOUND'), timeout(), timeout()];
    for (let i = 0; i < 5; i++) await expect(client.getCert('01')).rejects.toBeInstanceOf(PcaError);
    expect(client.breakerState()).toBe('closed');
  });

  it('the breaker stops a retry loop part-way', async () => {
    const { client, inner } = setup({ maxAttempts: 10, breakerThreshold: 2 });
    inner.script = [timeout(), timeout(), timeout(), 'ok'];
    await expect(client.chain()).rejects.toMatchObject({ kind: 'circuitOpen' });
    expect(inner.calls).toHaveLength(2);
  });
});

describe('ResilientPcaClient concurrency cap', () => {
  it('queues calls beyond maxConcurrent in FIFO order', async () => {
    const clock = new ManualClock();
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const inner = {
      getCert: (serial: string) =>
        new Promise<PcaCertInfo>((resolve) => {
          active++;
          peak = Math.max(peak, active);
          order.push(Number(serial));
          releases.push(() => {
            active--;
            resolve({ serialNo: serial } as PcaCertInfo);
          });
        }),
    } as unknown as PcaClient;
    const client = new ResilientPcaClient(inner, { clock, maxConcurrent: 2 });
    const calls = [1, 2, 3, 4, 5].map((n) => client.getCert(String(n)));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 2]);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });
});
