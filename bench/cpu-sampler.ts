import { writeFileSync } from 'node:fs';
import { Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Session } from 'node:inspector/promises';

// Preloaded into the real gateway process by bench/profile-vs-pebble.sh
// (`node --import ./dist/bench/cpu-sampler.js dist/src/main.js serve ...`), so the gateway is
// measured exactly as vs-pebble.sh runs it, with no change to src/. The first SIGUSR2 starts, the
// second stops and writes <CPU_SAMPLER_OUT>.cpuprofile and <CPU_SAMPLER_OUT>.json:
// - a V8 CPU profile of the window (every request kind, background jobs and the embedded simulator),
//   unless CPU_SAMPLER_PROFILE=0: the sampling itself costs CPU (a tick every 200 µs), so the
//   per-kind figures are best taken from a run without it;
// - per request kind: count and the process CPU (user + system, every thread) consumed between the
//   request's arrival and its response's end. With one client (CONC=1) requests never overlap, so
//   that is the request's cost (plus whatever background work ran meanwhile, e.g. the issuance job
//   a finalize waits for); with more clients the windows overlap and only the profile is exact.

interface KindStats {
  count: number;
  cpuMs: number;
  wallMs: number;
}

const out = process.env.CPU_SAMPLER_OUT ?? `/tmp/gateway-${process.pid}`;
const profiling = process.env.CPU_SAMPLER_PROFILE !== '0';
let started = false;
let session: Session | null = null;
let window: { cpu: NodeJS.CpuUsage; wall: number } | null = null;
let kinds = new Map<string, KindStats>();
const seenAuthz = new Set<string>();

/** The request kind of a gateway (or embedded simulator) path, the way acmeload's report names them. */
function kindOf(req: IncomingMessage): string {
  const path = (req.url ?? '').split('?')[0]!;
  if (path.startsWith('/api/')) return `simulator ${req.method} ${path.replace(/\/[0-9a-f-]{8,}(?=\/|$)/gi, '/:id')}`;
  const m = /\/(directory|new-nonce|new-account|new-order|revoke-cert|key-change|renewal-info|acct|order|authz|chall|cert)(?:\/([^/]+))?(\/finalize)?$/.exec(path);
  if (!m) return `other ${req.method}`;
  const [, what, id, finalize] = m;
  if (what === 'order') return finalize ? 'finalize' : 'order poll';
  if (what === 'authz') {
    // acmeload reads each authorization once before answering its challenge; later reads are polls.
    if (id && !seenAuthz.has(id)) {
      seenAuthz.add(id);
      return 'authz (first read)';
    }
    return 'authz poll';
  }
  return req.method === 'HEAD' ? `${what} HEAD` : what!;
}

function track(req: IncomingMessage, res: ServerResponse): void {
  if (!window) return;
  const kind = kindOf(req);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let done = false;
  const end = () => {
    if (done || !window) return;
    done = true;
    const d = process.cpuUsage(cpu0);
    const s = kinds.get(kind) ?? { count: 0, cpuMs: 0, wallMs: 0 };
    s.count++;
    s.cpuMs += (d.user + d.system) / 1000;
    s.wallMs += performance.now() - wall0;
    kinds.set(kind, s);
  };
  res.once('finish', end);
  res.once('close', end);
}

for (const proto of [HttpServer.prototype, HttpsServer.prototype] as Array<{ emit: (event: string, ...args: unknown[]) => boolean }>) {
  const emit = proto.emit;
  proto.emit = function (this: unknown, event: string, ...args: unknown[]): boolean {
    if (event === 'request') track(args[0] as IncomingMessage, args[1] as ServerResponse);
    return emit.call(this, event, ...args);
  };
}

async function toggle(): Promise<void> {
  if (!started) {
    started = true;
    kinds = new Map();
    seenAuthz.clear();
    if (profiling) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 }); // µs
      await session.post('Profiler.start');
    }
    window = { cpu: process.cpuUsage(), wall: performance.now() };
    return;
  }
  started = false;
  const w = window!;
  window = null;
  const total = process.cpuUsage(w.cpu);
  const wallMs = performance.now() - w.wall;
  if (session) {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: unknown };
    session.disconnect();
    session = null;
    writeFileSync(`${out}.cpuprofile`, JSON.stringify(profile));
  }
  const summary = { wallMs, cpuMs: (total.user + total.system) / 1000, kinds: Object.fromEntries([...kinds].sort((a, b) => b[1].cpuMs - a[1].cpuMs)) };
  writeFileSync(`${out}.json`, `${JSON.stringify(summary, null, 2)}\n`);
}

process.on('SIGUSR2', () => {
  toggle().catch((err: unknown) => process.stderr.write(`cpu-sampler: ${(err as Error).message}\n`));
});
