import 'reflect-metadata'; // first: @peculiar/x509 (through tsyringe) needs it before it loads
import { fork } from 'node:child_process';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHttpClient } from './load/http.js';
import { NodeAcmeClient } from './node-acme.js';
import { Profiler, summarizeProfile } from './profile.js';
import { makeSelfSigned } from './self-signed.js';
import { table } from './stats.js';
import { startGatewayTarget } from './targets.js';

// `node dist/bench/request-cost.js [--tls] [--n 2000] [--profile KIND]` (`ONLY_KIND=KIND` in the
// environment: that kind alone, e.g. under `perf record`): the server CPU of one
// request of each kind, one at a time, on a keep-alive connection, with no validation or issuance
// around it: the per-request overhead (HTTP, TLS, routing, body, JWS, nonce, store, headers) that
// every one of the ~8 requests of an order pays. The gateway runs in this process (as in
// `npm run bench`), the client in a forked one; CPU is this process's (every thread) per kind.
// Used to measure what each change of issue 11 bought; a benchmark, never a test.

// The last kind is the floor: a bare node:http(s) server in the same process, answering every
// request with a fixed 380-byte JSON body and the headers an ACME response carries (no routing, no
// store, no JWS), over the same kind of connection and certificate (P-256) from the same client.
// What node's HTTP and TLS cost per request here; the rows above it include it.
type Kind = 'GET directory' | 'GET newNonce' | 'POST-as-GET order' | 'POST-as-GET authz' | 'POST newOrder' | 'bare node:http(s)';
const KINDS: Kind[] = process.env.ONLY_KIND ? [process.env.ONLY_KIND as Kind] : ['GET directory', 'GET newNonce', 'POST-as-GET order', 'POST-as-GET authz', 'POST newOrder', 'bare node:http(s)'];

type ToClient = { type: 'run'; kind: Kind; n: number };
type Setup = { directoryUrl: string; caPem: string | null; floorUrl: string; floorCaPem: string | null };

async function startFloor(tls: boolean): Promise<{ server: Server; url: string; caPem: string | null }> {
  const body = Buffer.from(JSON.stringify({ status: 'pending', expires: new Date().toISOString(), identifiers: [{ type: 'dns', value: 'floor.cost.test' }], detail: 'x'.repeat(230) }));
  const handler: RequestListener = (req, res) => {
    req.resume();
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
      'Replay-Nonce': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'Cache-Control': 'no-store',
      Link: '<https://127.0.0.1/directory>;rel="index"',
    });
    res.end(body);
  };
  const cert = tls ? await makeSelfSigned('request-cost floor') : null;
  const server = cert ? createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, handler) : createHttpServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/floor`, caPem: cert?.certPem ?? null };
}

type FromClient = { type: 'ready' } | { type: 'start' } | { type: 'done'; kind: Kind; wallMs: number } | { type: 'fatal'; message: string };

async function parent(): Promise<void> {
  const argv = process.argv.slice(2);
  const tls = argv.includes('--tls');
  const n = Number(argv[argv.indexOf('--n') + 1] ?? 0) || 2000;
  const profileKind = argv.includes('--profile') ? (argv[argv.indexOf('--profile') + 1] as Kind) : null;
  const gateway = await startGatewayTarget({ dnsPort: 9, challengePort: 9 }, { tls });
  const child = fork(fileURLToPath(import.meta.url), ['client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: FromClient[] = [];
  let wake: (() => void) | null = null;
  child.on('message', (m: FromClient) => {
    messages.push(m);
    wake?.();
  });
  const next = async (): Promise<FromClient> => {
    while (messages.length === 0) await new Promise<void>((r) => (wake = r));
    const m = messages.shift()!;
    if (m.type === 'fatal') throw new Error(`client: ${m.message}`);
    return m;
  };
  const floor = await startFloor(tls);
  child.send({ directoryUrl: gateway.directoryUrl, caPem: gateway.caPem, floorUrl: floor.url, floorCaPem: floor.caPem } satisfies Setup);
  await next(); // ready
  const rows: string[][] = [];
  let profileText = '';
  try {
    for (const kind of KINDS) {
      // A warm-up pass of the same kind first (JIT, statement cache), then the measured one.
      for (const measured of [false, true]) {
        child.send({ type: 'run', kind, n: measured ? n : Math.min(n, 300) } satisfies ToClient);
        await next(); // start
        const profiler = measured && kind === profileKind ? new Profiler() : null;
        await profiler?.start();
        const before = gateway.cpuMs();
        const done = (await next()) as Extract<FromClient, { type: 'done' }>;
        const cpu = gateway.cpuMs() - before;
        if (profiler) {
          const prof = await profiler.stop();
          profileText = summarizeProfile(prof, 25);
          if (process.env.PROFILE_OUT) (await import("node:fs")).writeFileSync(process.env.PROFILE_OUT, JSON.stringify(prof));
        }
        if (measured) rows.push([kind, String(n), ((1000 * cpu) / n).toFixed(0), ((1000 * done.wallMs) / n).toFixed(0)]);
      }
    }
  } finally {
    child.kill();
    floor.server.closeAllConnections();
    floor.server.close();
    await gateway.close();
  }
  process.stdout.write(
    `request cost, ${tls ? 'https (tls.mode pca)' : 'http (tls.mode none)'}, one request at a time; node ${process.version}; ` +
      `load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n` +
      `${table(['request', 'n', 'server CPU µs/request', 'wall µs/request'], rows, '   ')}\n`,
  );
  if (profileText) process.stdout.write(`\n== profile of ${profileKind}\n${profileText}\n`);
}

// ---- the client (forked) ----

async function client(): Promise<void> {
  const send = (m: FromClient) => process.send!(m);
  const setup = await new Promise<Setup>((r) => process.once('message', r as never));
  const http = createHttpClient({ caPem: setup.caPem, maxSockets: 1, timeoutMs: 10_000 });
  const floorHttp = createHttpClient({ caPem: setup.floorCaPem, maxSockets: 1, timeoutMs: 10_000 });
  const c = await NodeAcmeClient.connect(http, setup.directoryUrl);
  const dir = c.dir;
  await c.register();
  let seq = 0;
  const newOrder = () => c.post(dir.newOrder!, { identifiers: [{ type: 'dns', value: `c${process.pid}-${seq++}.cost.test` }] });
  const order = await newOrder();
  const orderUrl = order.headers.location as string;
  const authzUrl = (JSON.parse(order.body.toString()) as { authorizations: string[] }).authorizations[0]!;
  const run: Record<Kind, () => Promise<unknown>> = {
    'GET directory': () => http.request('GET', setup.directoryUrl),
    'GET newNonce': async () => c.take(await http.request('GET', dir.newNonce!)),
    'POST-as-GET order': () => c.post(orderUrl, null),
    'POST-as-GET authz': () => c.post(authzUrl, null),
    'POST newOrder': newOrder,
    'bare node:http(s)': () => floorHttp.request('GET', setup.floorUrl),
  };
  send({ type: 'ready' });
  process.on('message', (m: ToClient) => {
    void (async () => {
      try {
        send({ type: 'start' });
        // Let the parent read its CPU counter before the first request.
        await new Promise((r) => setTimeout(r, 20));
        const t0 = performance.now();
        for (let i = 0; i < m.n; i++) await run[m.kind]();
        send({ type: 'done', kind: m.kind, wallMs: performance.now() - t0 });
      } catch (err) {
        send({ type: 'fatal', message: (err as Error).message });
      }
    })();
  });
}

const main = process.argv[2] === 'client' ? client : parent;
main().catch((err: unknown) => {
  process.stderr.write(`request-cost: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
