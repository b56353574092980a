import 'reflect-metadata'; // first: @peculiar/x509 (through tsyringe) needs it before it loads
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, USAGE, type BenchArgs } from './args.js';
import { Profiler, summarizeProfile } from './profile.js';
import type { FromLoad, LoadReady, LoadResult, LoadRunRequest } from './protocol.js';
import { buildReport, formatComparison, formatReport, type TargetReport } from './stats.js';
import { PEBBLE_BIN, startGatewayTarget, startPebbleTarget, type Target } from './targets.js';

// `npm run bench`: full ACME orders against the real gateway (in this process) and, with
// --against pebble, against Pebble; prints a table and writes JSON. Everything is on loopback,
// every loop is bounded, and a watchdog ends the process if anything hangs.

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const runs = args.against === 'pebble' ? 2 : 1;
  // Watchdog: each run is bounded by --time-limit plus request timeouts; past that, stop hard.
  const watchdogMs = runs * (runBudgetMs(args.timeLimitS * 1000, args.warmup) + runBudgetMs(args.timeLimitS * 1000, args.orders)) + 120_000;
  setTimeout(() => {
    process.stderr.write(`bench: watchdog fired after ${watchdogMs / 1000} s; exiting\n`);
    process.exit(3);
  }, watchdogMs).unref();

  process.stdout.write(
    `ACME benchmark: ${args.orders} orders, concurrency ${args.concurrency}, warm-up ${args.warmup}, poll ${args.pollMs} ms, ` +
      `${args.tls ? 'https' : 'http'}, ${args.freshAccounts ? 'a new account per order' : 'one account per client'}; ` +
      `node ${process.version}, ${availableParallelism()} CPUs\n`,
  );

  const load = await startLoadProcess();
  const reports: TargetReport[] = [];
  let profileText: string | null = null;
  try {
    const gateway = await startGatewayTarget(load.ports, { tls: args.tls });
    try {
      const measured = await measure(load, gateway, args, 'g', args.profile);
      reports.push(measured.report);
      profileText = measured.profileText;
    } finally {
      await gateway.close();
    }

    if (args.against === 'pebble') {
      const pebble = await startPebbleTarget(load.ports);
      if (!pebble) {
        process.stdout.write(`\n(skipping Pebble: ${PEBBLE_BIN} is not installed; apt-get install pebble)\n`);
      } else {
        try {
          reports.push((await measure(load, pebble, args, 'p', false)).report);
        } finally {
          await pebble.close();
        }
      }
    }
  } finally {
    await load.stop();
  }

  process.stdout.write('\n');
  for (const r of reports) process.stdout.write(`${formatReport(r)}\n\n`);
  if (reports.length > 1) process.stdout.write(`== side by side\n${formatComparison(reports)}\n\n`);
  if (profileText) process.stdout.write(`== gateway CPU profile (measured run)\n${profileText}\n\n`);

  if (args.out) {
    const out = resolve(args.out);
    mkdirSync(dirname(out), { recursive: true });
    const meta = { date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), args };
    writeFileSync(out, `${JSON.stringify({ meta, results: reports }, null, 2)}\n`);
    process.stdout.write(`results written to ${out}\n`);
  }
  const failed = reports.some((r) => r.orders.errors > 0 || r.orders.completed === 0);
  return failed ? 1 : 0;
}

async function measure(load: LoadProcess, target: Target, args: BenchArgs, prefix: string, profile: boolean) {
  const base = { directoryUrl: target.directoryUrl, caPem: target.caPem, concurrency: args.concurrency, pollMs: args.pollMs, timeLimitMs: args.timeLimitS * 1000, freshAccounts: args.freshAccounts };
  if (args.warmup > 0) {
    process.stdout.write(`${target.name}: warm-up (${args.warmup} orders)...\n`);
    const warm = await load.run({ ...base, type: 'run', label: `${target.name} warm-up`, orders: args.warmup, namePrefix: `${prefix}w` });
    if (warm.ordersCompleted === 0) process.stdout.write(`${target.name}: warm-up completed no order: ${warm.errorSamples[0]?.message ?? '?'}\n`);
  }
  process.stdout.write(`${target.name}: measuring (${args.orders} orders)...\n`);
  const profiler = profile ? new Profiler() : null;
  await profiler?.start();
  const cpuBefore = target.cpuMs();
  const result = await load.run({ ...base, type: 'run', label: target.name, orders: args.orders, namePrefix: prefix });
  const cpuMs = target.cpuMs() - cpuBefore;
  let profileText: string | null = null;
  if (profiler) {
    const p = await profiler.stop();
    const file = resolve('bench/results/gateway.cpuprofile');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(p));
    profileText = `   saved ${file}\n${summarizeProfile(p)}`;
  }
  return { report: buildReport(target, result, cpuMs), profileText };
}

/** Longest a run may take before the orchestrator treats the load process as stuck. */
function runBudgetMs(timeLimitMs: number, orders: number): number {
  return timeLimitMs + 150_000 + orders * 20;
}

interface LoadProcess {
  ports: { dnsPort: number; challengePort: number };
  run(req: LoadRunRequest): Promise<LoadResult>;
  stop(): Promise<void>;
}

/** Forks bench/load/main.js and waits for its DNS responder and http-01 server to be up. */
async function startLoadProcess(): Promise<LoadProcess> {
  const entry = fileURLToPath(new URL('./load/main.js', import.meta.url));
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" first`);
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let pending: { resolve: (m: FromLoad) => void; reject: (e: Error) => void } | null = null;
  child.on('message', (m: FromLoad) => pending?.resolve(m));
  child.once('exit', (code) => pending?.reject(new Error(`the load process exited (code ${code})`)));
  const next = (timeoutMs: number) =>
    new Promise<FromLoad>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the load process within ${timeoutMs / 1000} s`)), timeoutMs);
      pending = {
        resolve: (m) => {
          clearTimeout(timer);
          pending = null;
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          pending = null;
          reject(e);
        },
      };
    });
  const first = await next(30_000);
  if (first.type !== 'ready') throw new Error(`load process failed to start: ${first.type === 'fatal' ? first.message : first.type}`);
  const ready = first as LoadReady;
  return {
    ports: { dnsPort: ready.dnsPort, challengePort: ready.challengePort },
    async run(req) {
      // The run's time limit, then the polling grace (60 s) and request timeout (30 s) of orders under
      // way, plus CSR preparation before the clock starts (a few ms per order).
      const answer = next(runBudgetMs(req.timeLimitMs, req.orders));
      child.send(req);
      const m = await answer;
      if (m.type === 'fatal') throw new Error(`load process: ${m.message}`);
      if (m.type !== 'result') throw new Error(`unexpected message ${m.type}`);
      return m;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
