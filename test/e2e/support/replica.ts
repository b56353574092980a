import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { stringify } from 'yaml';
import { gatewayEntry, repoRoot } from './build.js';
import type { Harness } from './harness.js';
import { httpRequest, sleep } from './http.js';
import type { ManagedProcess } from './process.js';

// One gateway replica as its own process (`node dist/src/main.js serve`), on the shared PostgreSQL
// database and PCA, listening on its own port behind the load balancer. What is per replica lives in
// its directory: the config, a copy of the shared eab-kek.key, and its file copy of the serving
// certificate. It can be killed (SIGKILL), stopped (SIGTERM) and started again; its request and
// problem counters (/metrics on its admin listener, plain HTTP on loopback behind a token) are read
// while it runs and kept per process generation, since a killed process takes its counters with it.

/** The admin token every replica is given (the admin listener needs one for /metrics). */
const ADMIN_TOKEN = 'replicas-e2e-admin-token';

export interface ReplicaOptions {
  name: string;
  /** Everything under server/storage/acme/validation/pca/logging, merged over the replica's own. */
  config: Record<string, Record<string, unknown>>;
  /** The shared key-encryption key, copied into the replica's directory. */
  kekFile: string;
  /** PEM of the root its serving certificate chains to (the PCA's). */
  caFile: string;
  /** The external host name (the certificate's SAN). */
  host: string;
}

export interface Counts {
  /** ACME requests answered (every route but /readyz, /livez and /metrics). */
  requests: number;
  /** Jobs running in the process when it was read. */
  jobsInFlight: number;
  badNonce: number;
  serverInternal: number;
}

export class Replica {
  readonly dir: string;
  readonly configPath: string;
  private current: ManagedProcess | undefined;
  private readonly past: ManagedProcess[] = [];
  private generation = 0;
  /** The last counts read from each generation of the process. */
  readonly countsByGeneration = new Map<number, Counts>();
  readonly events: string[] = [];

  private constructor(
    private readonly harness: Harness,
    readonly port: number,
    /** Its admin listener (/readyz for the load balancer's health check, /metrics). */
    readonly adminPort: number,
    private readonly o: ReplicaOptions,
  ) {
    this.dir = harness.tempDir(`replica-${o.name}`);
    this.configPath = path.join(this.dir, 'gateway.yaml');
  }

  static async create(harness: Harness, o: ReplicaOptions): Promise<Replica> {
    const r = new Replica(harness, await harness.freePort(), await harness.freePort(), o);
    fs.copyFileSync(o.kekFile, path.join(r.dir, 'eab-kek.key'));
    const config = { ...o.config };
    config.server = { ...(config.server ?? {}), listen: `127.0.0.1:${r.port}` };
    config.acme = { ...(config.acme ?? {}), eabKekFile: path.join(r.dir, 'eab-kek.key') };
    config.admin = { ...(config.admin ?? {}), listen: `127.0.0.1:${r.adminPort}`, token: ADMIN_TOKEN };
    fs.writeFileSync(r.configPath, stringify(config));
    return r;
  }

  get name(): string {
    return this.o.name;
  }

  get url(): string {
    return `https://${this.o.host}:${this.port}`;
  }

  isRunning(): boolean {
    return this.current?.isRunning() ?? false;
  }

  output(): string {
    return this.current?.output() ?? '';
  }

  /** The messages this replica logged at warn or above, over every generation, with how often. */
  warnings(): Map<string, number> {
    const seen = new Map<string, number>();
    for (const p of [...this.past, ...(this.current ? [this.current] : [])]) {
      for (const line of p.output().split('\n')) {
        const m = /^\{"level":(\d+).*"msg":"([^"]*)"/.exec(line);
        if (m && Number(m[1]) >= 40) seen.set(m[2]!, (seen.get(m[2]!) ?? 0) + 1);
      }
    }
    return seen;
  }

  /** The job owner of the current process (jobs.lease_owner), from its start-up log. */
  jobOwner(): string | undefined {
    return /"owner":"([^"]+)","msg":"job runner started"/.exec(this.output())?.[1];
  }

  /** Starts the process; ready() waits for it. */
  launch(): void {
    if (this.current?.isRunning()) throw new Error(`${this.name} is already running`);
    if (this.current) this.past.push(this.current);
    this.generation += 1;
    this.current = this.harness.spawn(`${this.name}#${this.generation}`, process.execPath, [gatewayEntry(), 'serve', '--config', this.configPath], {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'test' },
    });
    this.events.push(`start #${this.generation}`);
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** Waits until /readyz (admin listener) answers 200 and the ACME port serves TLS that verifies to the PCA root. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const proc = this.current!;
    const deadline = Date.now() + timeoutMs;
    let last = 'no attempt yet';
    for (;;) {
      if (!proc.isRunning()) throw new Error(`${this.name} exited during start-up (${last}):\n${proc.output()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready within ${timeoutMs} ms (${last}):\n${proc.output()}`);
      try {
        const res = await httpRequest(`${this.adminUrl}/readyz`, { timeoutMs: 2_000, freshConnection: true });
        if (res.status === 200) {
          const dir = await httpRequest(`${this.url}/directory`, { caPem: fs.readFileSync(this.o.caFile), timeoutMs: 2_000, freshConnection: true });
          if (dir.status === 200) return;
          last = `directory HTTP ${dir.status} ${dir.body}`;
        } else last = `readyz HTTP ${res.status} ${res.body}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(200);
    }
  }

  async kill(): Promise<void> {
    const proc = this.current;
    if (!proc?.pid || !proc.isRunning()) throw new Error(`${this.name} is not running`);
    await this.scrape().catch(() => undefined); // its counters die with it
    process.kill(proc.pid, 'SIGKILL');
    await proc.exited;
    this.events.push(`SIGKILL #${this.generation}`);
  }

  /** SIGTERM (graceful: in-flight jobs finish or are handed back) and wait for the exit. */
  async stop(): Promise<void> {
    const proc = this.current;
    if (!proc?.isRunning()) return;
    await this.scrape().catch(() => undefined);
    const exit = await proc.stop(15_000);
    this.events.push(`SIGTERM #${this.generation} → ${exit.signal ?? `exit ${exit.code}`}`);
    if (exit.signal === 'SIGKILL') throw new Error(`${this.name} ignored SIGTERM for 15 s:\n${proc.output()}`);
  }

  /** Reads this generation's counters from /metrics. */
  async scrape(): Promise<Counts> {
    const res = await httpRequest(`${this.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, timeoutMs: 3_000, freshConnection: true });
    if (res.status !== 200) throw new Error(`${this.name} /metrics → ${res.status}`);
    const counts = parseCounts(res.body);
    this.countsByGeneration.set(this.generation, counts);
    return counts;
  }

  /** Every generation's last counts, added up. */
  totals(): Counts {
    const t: Counts = { requests: 0, jobsInFlight: 0, badNonce: 0, serverInternal: 0 };
    for (const c of this.countsByGeneration.values()) {
      t.requests += c.requests;
      t.badNonce += c.badNonce;
      t.serverInternal += c.serverInternal;
    }
    return t;
  }

  /** The leaf certificate this replica serves (its fingerprint). */
  servedFingerprint(): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: this.port, servername: this.o.host, ca: fs.readFileSync(this.o.caFile) }, () => {
        const peer = socket.getPeerX509Certificate();
        socket.destroy();
        if (peer) resolve(new X509Certificate(peer.raw).fingerprint256);
        else reject(new Error('no peer certificate'));
      });
      socket.once('error', reject);
    });
  }
}

const NOT_ACME = new Set(['/readyz', '/livez', '/metrics']);

export function parseCounts(metrics: string): Counts {
  const counts: Counts = { requests: 0, jobsInFlight: 0, badNonce: 0, serverInternal: 0 };
  for (const line of metrics.split('\n')) {
    const req = /^acme_http_requests_total\{([^}]*)\} (\d+)/.exec(line);
    if (req) {
      const route = /route="([^"]*)"/.exec(req[1]!)?.[1] ?? '';
      if (!NOT_ACME.has(route)) counts.requests += Number(req[2]);
      continue;
    }
    const inFlight = /^acme_jobs_in_flight (\d+)/.exec(line);
    if (inFlight) counts.jobsInFlight = Number(inFlight[1]);
    const problem = /^acme_problems_total\{type="([^"]+)"\} (\d+)/.exec(line);
    if (problem?.[1] === 'badNonce') counts.badNonce += Number(problem[2]);
    if (problem?.[1] === 'serverInternal') counts.serverInternal += Number(problem[2]);
  }
  return counts;
}
