import { STEPS, type LoadResult, type Step } from './protocol.js';

// Turning latency samples and CPU counters into the numbers the report shows.

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles; all zero for no samples. */
export function summarize(samples: number[]): Summary {
  if (samples.length === 0) return { n: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export interface TargetReport {
  target: string;
  describe: string;
  orders: { attempted: number; completed: number; errors: number; timedOut: boolean };
  ordersPerSecond: number;
  wallSeconds: number;
  /** Server CPU per completed order (ms), from process.cpuUsage() or /proc/<pid>/stat. */
  serverCpuMsPerOrder: number;
  serverCpuMsTotal: number;
  /** Share of one core the server used during the run. */
  serverCpuCores: number;
  clientCpuMsPerOrder: number;
  signedRequestsPerOrder: number;
  pollsPerOrder: number;
  badNonceRetries: number;
  accountsCreated: number;
  latencyMs: Record<Step, Summary>;
  errorSamples: LoadResult['errorSamples'];
}

export function buildReport(target: { name: string; describe: string }, r: LoadResult, serverCpuMs: number): TargetReport {
  const done = Math.max(1, r.ordersCompleted);
  return {
    target: target.name,
    describe: target.describe,
    orders: { attempted: r.ordersAttempted, completed: r.ordersCompleted, errors: r.errors, timedOut: r.timedOut },
    ordersPerSecond: r.ordersCompleted / (r.wallMs / 1000),
    wallSeconds: r.wallMs / 1000,
    serverCpuMsPerOrder: serverCpuMs / done,
    serverCpuMsTotal: serverCpuMs,
    serverCpuCores: serverCpuMs / r.wallMs,
    clientCpuMsPerOrder: r.clientCpuMs / done,
    signedRequestsPerOrder: r.signedRequests / Math.max(1, r.ordersAttempted),
    pollsPerOrder: r.polls / Math.max(1, r.ordersAttempted),
    badNonceRetries: r.badNonceRetries,
    accountsCreated: r.accountsCreated,
    latencyMs: Object.fromEntries(STEPS.map((s) => [s, summarize(r.samples[s])])) as Record<Step, Summary>,
    errorSamples: r.errorSamples,
  };
}

const STEP_LABELS: Record<Step, string> = {
  newAccount: 'newAccount',
  newOrder: 'newOrder',
  authz: 'authz (POST-as-GET)',
  challengeToValid: 'challenge → valid',
  finalizeToValid: 'finalize → valid',
  download: 'download',
  wholeOrder: 'whole order',
};

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The per-step latency table and totals of one target, as text. */
export function formatReport(r: TargetReport): string {
  const lines: string[] = [];
  lines.push(`== ${r.target}: ${r.describe}`);
  lines.push(
    `   orders ${r.orders.completed}/${r.orders.attempted} completed, errors ${r.orders.errors}${r.orders.timedOut ? ' (time limit reached)' : ''}, ` +
      `${r.wallSeconds.toFixed(2)} s → ${r.ordersPerSecond.toFixed(1)} orders/s`,
  );
  lines.push(
    `   server CPU ${r.serverCpuMsPerOrder.toFixed(2)} ms/order (${r.serverCpuMsTotal.toFixed(0)} ms total, ${r.serverCpuCores.toFixed(2)} cores busy); ` +
      `client CPU ${r.clientCpuMsPerOrder.toFixed(2)} ms/order`,
  );
  lines.push(
    `   ${r.signedRequestsPerOrder.toFixed(1)} signed requests/order (${r.pollsPerOrder.toFixed(1)} polls), badNonce retries ${r.badNonceRetries}, accounts created ${r.accountsCreated}`,
  );
  const header = ['step', 'n', 'p50', 'p90', 'p99', 'max', 'mean'];
  const rows = (Object.keys(STEP_LABELS) as Step[]).map((s) => {
    const x = r.latencyMs[s];
    return [STEP_LABELS[s], String(x.n), ms(x.p50), ms(x.p90), ms(x.p99), ms(x.max), ms(x.mean)];
  });
  lines.push(...table(header, rows, '   ').split('\n'));
  lines.push('   (latencies in ms)');
  for (const e of r.errorSamples) lines.push(`   error ×${e.count}: ${e.message}`);
  return lines.join('\n');
}

/** Key numbers of several targets in adjacent columns. */
export function formatComparison(reports: TargetReport[]): string {
  const metric = (label: string, f: (r: TargetReport) => string) => [label, ...reports.map(f)];
  const p = (s: Step, k: keyof Summary) => (r: TargetReport) => ms(r.latencyMs[s][k]);
  const rows = [
    metric('orders/s', (r) => r.ordersPerSecond.toFixed(1)),
    metric('server CPU ms/order', (r) => r.serverCpuMsPerOrder.toFixed(2)),
    metric('errors', (r) => String(r.orders.errors)),
    metric('newAccount p50/p99', (r) => `${p('newAccount', 'p50')(r)} / ${p('newAccount', 'p99')(r)}`),
    metric('newOrder p50/p99', (r) => `${p('newOrder', 'p50')(r)} / ${p('newOrder', 'p99')(r)}`),
    metric('challenge→valid p50/p99', (r) => `${p('challengeToValid', 'p50')(r)} / ${p('challengeToValid', 'p99')(r)}`),
    metric('finalize→valid p50/p99', (r) => `${p('finalizeToValid', 'p50')(r)} / ${p('finalizeToValid', 'p99')(r)}`),
    metric('download p50/p99', (r) => `${p('download', 'p50')(r)} / ${p('download', 'p99')(r)}`),
    metric('whole order p50/p99', (r) => `${p('wholeOrder', 'p50')(r)} / ${p('wholeOrder', 'p99')(r)}`),
  ];
  return table(['', ...reports.map((r) => r.target)], rows, '   ');
}

export function table(header: string[], rows: string[][], indent = ''): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => indent + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), indent + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}
