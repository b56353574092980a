import { existsSync, readFileSync } from 'node:fs';
import { summarizeProfile, type CpuProfile } from './profile.js';
import { table } from './stats.js';

// `node dist/bench/profile-report.js <sampler-out> <acmeload.json>`: what bench/cpu-sampler.ts
// recorded in the gateway during one acmeload run, per completed order (bench/profile-vs-pebble.sh
// runs it). Per request kind: requests per order and CPU per order; the CPU not inside any request
// (the validation job, job-runner ticks, timers, GC between requests) is its own line.

interface Summary {
  wallMs: number;
  cpuMs: number;
  kinds: Record<string, { count: number; cpuMs: number; wallMs: number }>;
}

const [base, loadFile] = process.argv.slice(2);
if (!base || !loadFile) {
  process.stderr.write('usage: node dist/bench/profile-report.js <sampler-out> <acmeload.json>\n');
  process.exit(64);
}
const s = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as Summary;
const load = JSON.parse(readFileSync(loadFile, 'utf8')) as { ordersCompleted: number; ordersPerSecond: number; latencyMs: { p50: number; p99: number }; concurrency?: number };
const orders = Math.max(1, load.ordersCompleted);
const perOrder = (ms: number) => (ms / orders).toFixed(2);

const rows: string[][] = [];
let inRequests = 0;
for (const [kind, k] of Object.entries(s.kinds)) {
  // The simulator's requests run inside the finalize that waits for them: shown, not added again.
  const nested = kind.startsWith('simulator ');
  if (!nested) inRequests += k.cpuMs;
  rows.push([nested ? `  (in finalize) ${kind}` : kind, (k.count / orders).toFixed(2), (k.cpuMs / k.count).toFixed(3), perOrder(k.cpuMs), (k.wallMs / k.count).toFixed(1)]);
}
const outside = s.cpuMs - inRequests;
rows.push(['outside any request (jobs between requests, timers, GC)', '', '', perOrder(outside), '']);
rows.push(['total (window)', '', '', perOrder(s.cpuMs), '']);

process.stdout.write(
  [
    `orders completed: ${load.ordersCompleted}, ${load.ordersPerSecond.toFixed(1)} orders/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms`,
    `gateway process CPU over the window: ${s.cpuMs.toFixed(0)} ms in ${(s.wallMs / 1000).toFixed(1)} s = ${perOrder(s.cpuMs)} ms/order` +
      ` (request windows overlap when more than one client runs: per-kind CPU is exact at CONC=1 only)`,
    '',
    table(['request kind', 'per order', 'CPU ms/request', 'CPU ms/order', 'wall ms/request'], rows, '   '),
    '',
    existsSync(`${base}.cpuprofile`) ? summarizeProfile(JSON.parse(readFileSync(`${base}.cpuprofile`, 'utf8')) as CpuProfile, 25) : '(no CPU profile: CPU_SAMPLER_PROFILE=0)',
    '',
  ].join('\n'),
);
