import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ensureGatewayBuilt, gatewayEntry, repoRoot } from '../support/build.js';
import { freePort } from '../support/ports.js';
import { spawnManaged, type ExitInfo, type ManagedProcess } from '../support/process.js';
import type { FaultConfig, FiredFaults } from '../../../src/pca/simulator/faults.js';

// The built gateway (`node dist/src/main.js serve`) with its embedded PCA simulator, run as a child
// process that the chaos tests can kill with SIGKILL and start again on the same config and files.
// Plain http (tls.mode none) so that restarts need no TLS trust juggling; the simulator listens on a
// fixed port so its loopback admin API (/_simulator/faults, /_simulator/faults/fired, /_simulator/issued) stays reachable.

export interface SimulatorIssued {
  serialNo: string;
  issuedAt: string;
  spkiSha256: string;
  names: string[];
  revoked: boolean;
}

export interface ChaosGatewayOptions {
  /** Port the http-01 validator connects to (the test's responder). */
  validationHttpPort: number;
  pca?: { timeoutMs?: number; issuanceDeadlineMs?: number; maxConcurrentCalls?: number; breakerCooldownMs?: number };
  finalizeWaitMs?: number;
  jobConcurrency?: number;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug';
  /** How many generations' output to keep for the failure dump. */
  keepOutputs?: number;
}

export class ChaosGateway {
  readonly dir: string;
  readonly configPath: string;
  readonly sqlitePath: string;
  readonly simulatorDir: string;
  readonly directoryUrl: string;
  readonly simulatorUrl: string;
  private current: ManagedProcess | undefined;
  private readonly past: { name: string; output: string; exit?: ExitInfo }[] = [];
  private generation = 0;
  /** From each kill's start to the next start's first 200 on the directory (epoch ms). */
  private readonly down: Array<{ from: number; to: number | undefined }> = [];

  private constructor(
    dir: string,
    readonly port: number,
    readonly simulatorPort: number,
    private readonly opts: ChaosGatewayOptions,
  ) {
    this.dir = dir;
    this.configPath = path.join(dir, 'gateway.yaml');
    this.sqlitePath = path.join(dir, 'gateway.sqlite');
    this.simulatorDir = path.join(dir, 'pca');
    this.directoryUrl = `http://127.0.0.1:${port}/directory`;
    this.simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
  }

  static async create(opts: ChaosGatewayOptions): Promise<ChaosGateway> {
    await ensureGatewayBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-chaos-'));
    const port = await freePort();
    let simulatorPort = await freePort();
    while (simulatorPort === port || simulatorPort === opts.validationHttpPort) simulatorPort = await freePort();
    const gw = new ChaosGateway(dir, port, simulatorPort, opts);
    const config = {
      server: { listen: `127.0.0.1:${port}`, externalUrl: `http://127.0.0.1:${port}`, tls: { mode: 'none' }, finalizeWaitMs: opts.finalizeWaitMs ?? 1_000 },
      storage: { sqlite: gw.sqlitePath },
      validation: { httpPort: opts.validationHttpPort, dnsResolvers: [], timeoutMs: 3_000, concurrency: opts.jobConcurrency ?? 16 },
      pca: {
        kind: 'simulator',
        period: 30,
        timeoutMs: opts.pca?.timeoutMs ?? 5_000,
        issuanceDeadlineMs: opts.pca?.issuanceDeadlineMs ?? 60_000,
        maxConcurrentCalls: opts.pca?.maxConcurrentCalls ?? 8,
        breakerCooldownMs: opts.pca?.breakerCooldownMs ?? 30_000,
      },
      simulator: { listen: `127.0.0.1:${simulatorPort}`, dataDir: gw.simulatorDir },
      // Its own admin port: the default (14002) is one per machine.
      admin: { listen: `127.0.0.1:${await freePort()}`, tokenFile: path.join(dir, 'admin.token') },
      logging: { level: opts.logLevel ?? 'info' },
    };
    fs.writeFileSync(gw.configPath, stringify(config));
    return gw;
  }

  get rootPemPath(): string {
    return path.join(this.simulatorDir, 'root.pem');
  }

  rootPem(): string {
    return fs.readFileSync(this.rootPemPath, 'utf8');
  }

  get restarts(): number {
    return Math.max(0, this.generation - 1);
  }

  isRunning(): boolean {
    return this.current?.isRunning() ?? false;
  }

  /** Starts a process and waits until the directory answers 200; returns how long that took. */
  async start(timeoutMs = 30_000): Promise<number> {
    if (this.current?.isRunning()) throw new Error('gateway already running');
    this.generation += 1;
    const started = Date.now();
    const proc = spawnManaged(`gateway#${this.generation}`, process.execPath, [gatewayEntry(), 'serve', '--config', this.configPath], {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'test' },
    });
    this.current = proc;
    let last = 'no attempt yet';
    for (;;) {
      if (!proc.isRunning()) throw new Error(`gateway exited during start-up (${last}):\n${proc.output().slice(-20_000)}`);
      if (Date.now() - started > timeoutMs) throw new Error(`gateway did not answer within ${timeoutMs} ms (${last}):\n${proc.output().slice(-20_000)}`);
      try {
        const res = await fetch(this.directoryUrl, { signal: AbortSignal.timeout(1_000) });
        if (res.status === 200) {
          await res.arrayBuffer();
          const last = this.down.at(-1);
          if (last && last.to === undefined) last.to = Date.now();
          return Date.now() - started;
        }
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(50);
    }
  }

  /** SIGKILL (default) or SIGTERM, and wait for the exit. */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<ExitInfo | undefined> {
    const proc = this.current;
    if (!proc) return undefined;
    this.down.push({ from: Date.now(), to: undefined });
    let exit: ExitInfo;
    if (signal === 'SIGTERM') {
      exit = await proc.stop(15_000);
    } else {
      if (proc.pid !== undefined && proc.isRunning()) process.kill(proc.pid, 'SIGKILL');
      exit = await proc.exited;
    }
    this.past.push({ name: proc.name, output: proc.output(), exit });
    const keep = this.opts.keepOutputs ?? 4;
    while (this.past.length > keep) this.past.shift();
    this.current = undefined;
    return exit;
  }

  /** When the gateway was down: from each kill until the next start answered (open while stopped). */
  downWindows(): Array<{ from: number; to: number }> {
    return this.down.map((w) => ({ from: w.from, to: w.to ?? Number.POSITIVE_INFINITY }));
  }

  /** Everything the last few processes printed, for a failure dump. */
  outputs(maxPerProcess = 15_000): string {
    const parts = this.past.map((p) => `----- ${p.name} (exit ${JSON.stringify(p.exit)}) -----\n${p.output.slice(-maxPerProcess)}`);
    if (this.current) parts.push(`----- ${this.current.name} (running) -----\n${this.current.output().slice(-maxPerProcess)}`);
    return parts.join('\n');
  }

  /** The current process's full captured output (for counting log events). */
  currentOutput(): string {
    return this.current?.output() ?? '';
  }

  async setFaults(faults: FaultConfig): Promise<FaultConfig> {
    const res = await fetch(`${this.simulatorUrl}/_simulator/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await res.json()) as FaultConfig;
    if (res.status !== 200) throw new Error(`PUT /_simulator/faults → ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** The faults the simulator really injected since it started (GET /_simulator/faults/fired). */
  async firedFaults(): Promise<FiredFaults> {
    const res = await fetch(`${this.simulatorUrl}/_simulator/faults/fired`, { signal: AbortSignal.timeout(5_000) });
    if (res.status !== 200) throw new Error(`GET /_simulator/faults/fired → ${res.status}`);
    return (await res.json()) as FiredFaults;
  }

  async issued(): Promise<SimulatorIssued[]> {
    const res = await fetch(`${this.simulatorUrl}/_simulator/issued`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`GET /_simulator/issued → ${res.status}`);
    return (await res.json()) as SimulatorIssued[];
  }

  /** Removes the temp dir unless ACME_E2E_KEEP_TMP=1. */
  cleanup(): void {
    if (process.env.ACME_E2E_KEEP_TMP === '1') {
      console.error(`ACME_E2E_KEEP_TMP=1: kept ${this.dir}`);
      return;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
