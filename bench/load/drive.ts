import { makeCsr } from '../../src/pca/make-csr.js';
import { STEPS, type LoadResult, type LoadRunRequest, type Step } from '../protocol.js';
import { AcmeConnection, generateAccountKey, type AccountKey } from './acme-client.js';
import type { ChallengeServer } from './challenge-server.js';
import { createHttpClient } from './http.js';

// Runs `orders` complete ACME orders (RFC 8555 §7.1 flow: newAccount → newOrder → authz →
// challenge → poll → finalize → poll → download) on `concurrency` workers, each with its own
// account key, and records how long each step took. CSRs are made before the clock starts so the
// client's key generation does not count as server latency.

interface OrderJson {
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: { detail?: string };
}
interface AuthzJson {
  status: string;
  challenges: { type: string; url: string; token: string; status: string }[];
}

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ERROR_SAMPLES = 8;
const POLL_GRACE_MS = 60_000;

export async function runLoad(req: LoadRunRequest, challenges: ChallengeServer): Promise<LoadResult> {
  const names = Array.from({ length: req.orders }, (_, i) => `svc-${req.namePrefix}-${i}.bench.test`);
  const csrs = await mapLimit(names, 4, async (name) => derBase64Url((await makeCsr([name], { keyType: 'P256' })).csrPem));
  const workerKeys = await Promise.all(Array.from({ length: req.concurrency }, () => generateAccountKey()));

  const http = createHttpClient({ caPem: req.caPem, maxSockets: req.concurrency * 2, timeoutMs: REQUEST_TIMEOUT_MS });
  const samples = Object.fromEntries(STEPS.map((s) => [s, [] as number[]])) as Record<Step, number[]>;
  const errors = new Map<string, number>();
  let errorCount = 0;
  let completed = 0;
  let attempted = 0;
  let polls = 0;
  let accountsCreated = 0;
  let timedOut = false;
  const conns: AcmeConnection[] = [];

  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + req.timeLimitMs;
  // Orders already started when the time limit passes may finish; polling stops for good after this.
  const pollDeadline = deadline + POLL_GRACE_MS;
  let next = 0;

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const timed = async <T>(step: Step, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const out = await fn();
    samples[step].push(performance.now() - t);
    return out;
  };

  async function worker(workerIndex: number): Promise<void> {
    const conn = await AcmeConnection.open(http, req.directoryUrl);
    conns.push(conn);
    let key: AccountKey = workerKeys[workerIndex]!;
    for (;;) {
      const i = next++;
      if (i >= req.orders) return;
      if (performance.now() > deadline) {
        timedOut = true;
        return;
      }
      attempted++;
      if (req.freshAccounts) key = await generateAccountKey();
      let token: string | undefined;
      try {
        const orderStart = performance.now();
        const account = await timed('newAccount', () => conn.post('newAccount', conn.directory.newAccount, key, null, { termsOfServiceAgreed: true }));
        if (account.status === 201) accountsCreated++;
        const kid = need(account.location, 'newAccount: no Location');

        const order = await timed('newOrder', () =>
          conn.post<OrderJson>('newOrder', conn.directory.newOrder, key, kid, { identifiers: [{ type: 'dns', value: names[i]! }] }),
        );
        const orderUrl = need(order.location, 'newOrder: no Location');
        const authzUrl = need(order.body.authorizations[0], 'newOrder: no authorization');

        const authz = await timed('authz', () => conn.post<AuthzJson>('authz', authzUrl, key, kid));
        const challenge = need(authz.body.challenges.find((c) => c.type === 'http-01'), 'authz: no http-01 challenge');
        token = challenge.token;
        challenges.set(token, `${token}.${key.thumbprint}`); // RFC 8555 §8.1

        await timed('challengeToValid', async () => {
          await conn.post('challenge', challenge.url, key, kid, {});
          for (;;) {
            const a = await conn.post<AuthzJson>('authz poll', authzUrl, key, kid);
            polls++;
            if (a.body.status === 'valid') return;
            if (a.body.status !== 'pending') throw new Error(`authorization ended ${a.body.status}: ${JSON.stringify(a.body.challenges.map((c) => (c as { error?: unknown }).error ?? null))}`);
            if (performance.now() > pollDeadline) throw new Error('gave up waiting for the authorization (time limit + 60 s)');
            await sleep(req.pollMs);
          }
        });
        challenges.delete(token);

        const certUrl = await timed('finalizeToValid', async () => {
          let o = (await conn.post<OrderJson>('finalize', order.body.finalize, key, kid, { csr: csrs[i] })).body;
          for (;;) {
            if (o.status === 'valid') return need(o.certificate, 'order valid without a certificate URL');
            if (o.status !== 'processing' && o.status !== 'ready') throw new Error(`order ended ${o.status}: ${o.error?.detail ?? ''}`);
            if (performance.now() > pollDeadline) throw new Error('gave up waiting for the certificate (time limit + 60 s)');
            await sleep(req.pollMs);
            o = (await conn.post<OrderJson>('order poll', orderUrl, key, kid)).body;
            polls++;
          }
        });

        const cert = await timed('download', () => conn.post<string>('download', certUrl, key, kid));
        if (typeof cert.body !== 'string' || !cert.body.startsWith('-----BEGIN CERTIFICATE-----')) throw new Error('download: not a PEM chain');
        samples.wholeOrder.push(performance.now() - orderStart);
        completed++;
      } catch (err) {
        errorCount++;
        if (token) challenges.delete(token);
        const message = err instanceof Error ? err.message : String(err);
        const sample = message.slice(0, 300);
        if (errors.has(sample) || errors.size < MAX_ERROR_SAMPLES) errors.set(sample, (errors.get(sample) ?? 0) + 1);
      }
    }
  }

  const results = await Promise.allSettled(Array.from({ length: req.concurrency }, (_, w) => worker(w)));
  for (const r of results) {
    if (r.status === 'rejected') {
      errorCount++;
      const message = `worker: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`;
      errors.set(message, (errors.get(message) ?? 0) + 1);
    }
  }
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  http.close();

  return {
    type: 'result',
    label: req.label,
    ordersAttempted: attempted,
    ordersCompleted: completed,
    errors: errorCount,
    errorSamples: [...errors].map(([message, count]) => ({ message, count })),
    wallMs,
    samples,
    signedRequests: conns.reduce((n, c) => n + c.signedRequests, 0),
    badNonceRetries: conns.reduce((n, c) => n + c.badNonceRetries, 0),
    polls,
    accountsCreated,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    timedOut,
  };
}

function need<T>(value: T | undefined | null, message: string): T {
  if (value === undefined || value === null) throw new Error(message);
  return value;
}

function derBase64Url(pem: string): string {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64').toString('base64url');
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
    }),
  );
  return out;
}
