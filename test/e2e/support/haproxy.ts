import fs from 'node:fs';
import path from 'node:path';
import type { Harness } from './harness.js';
import { httpRequest, sleep } from './http.js';
import type { ManagedProcess } from './process.js';

// Debian's HAProxy in front of gateway replicas, configured as the README's "Several replicas"
// section shows: TCP mode (TLS goes through to the replicas, which serve the PCA-issued
// certificate), round-robin with no stickiness, a health check on each replica's admin listener
// (/readyz, plain HTTP on its own port), and a
// connection refused by a dead replica retried on another one (retries + redispatch). A stats page
// on its own port tells how many connections each replica got and how many were retried.

export const HAPROXY_BINARY = '/usr/sbin/haproxy';

export interface HaproxyBackend {
  name: string;
  port: number;
  /** The replica's admin listener, where the health check asks /readyz. */
  adminPort: number;
}

export interface HaproxyConfigOptions {
  port: number;
  statsPort: number;
  backends: HaproxyBackend[];
}

export function haproxyConfig(o: HaproxyConfigOptions): string {
  return `global
    maxconn 2000

defaults
    mode tcp
    timeout connect 2s
    # ACME requests are short, but finalize may wait for the PCA (server.finalizeWaitMs).
    timeout client 60s
    timeout server 60s
    timeout check 2s
    # A connection a replica refuses (stopped, killed) is tried again, each time on another replica.
    retries 3
    option redispatch 1

frontend acme
    bind 127.0.0.1:${o.port}
    default_backend gateways

backend gateways
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2
${o.backends.map((b) => `    server ${b.name} 127.0.0.1:${b.port} port ${b.adminPort}`).join('\n')}

listen stats
    mode http
    bind 127.0.0.1:${o.statsPort}
    stats enable
    stats uri /stats
`;
}

export interface BackendStats {
  name: string;
  /** UP, DOWN, … as HAProxy's health check sees it. */
  status: string;
  /** Connections handed to this replica. */
  sessions: number;
  /** Connection attempts to it that failed. */
  connectErrors: number;
  /** Connection retries, and redispatches to another replica. */
  retries: number;
  redispatches: number;
}

export interface Haproxy {
  port: number;
  process: ManagedProcess;
  configPath: string;
  stats(): Promise<BackendStats[]>;
  /** Waits until HAProxy's health check has `count` replicas UP. */
  waitUp(count: number, timeoutMs?: number): Promise<void>;
}

/** o.port: the address clients use (known before the replicas start: it is their externalUrl). */
export async function startHaproxy(harness: Harness, o: Omit<HaproxyConfigOptions, 'statsPort'>): Promise<Haproxy> {
  const port = o.port;
  const statsPort = await harness.freePort();
  const dir = harness.tempDir('haproxy');
  const configPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(configPath, haproxyConfig({ ...o, statsPort }));
  const check = await harness.run(HAPROXY_BINARY, ['-c', '-f', configPath], { timeoutMs: 10_000 });
  if (check.code !== 0) throw new Error(`haproxy -c refused the configuration:\n${check.stdout}${check.stderr}\n${fs.readFileSync(configPath, 'utf8')}`);
  // -db: stay in the foreground (no daemon), so the harness owns the process and stops it.
  const proc = harness.spawn('haproxy', HAPROXY_BINARY, ['-db', '-f', configPath]);

  const stats = async (): Promise<BackendStats[]> => {
    const res = await httpRequest(`http://127.0.0.1:${statsPort}/stats;csv`, { timeoutMs: 2_000, freshConnection: true });
    if (res.status !== 200) throw new Error(`HAProxy stats → ${res.status}`);
    const [header, ...rows] = res.body.trim().split('\n');
    const cols = header!.replace(/^# /, '').split(',');
    const at = (row: string[], col: string) => row[cols.indexOf(col)] ?? '';
    return rows
      .map((line) => line.split(','))
      .filter((row) => at(row, 'pxname') === 'gateways' && at(row, 'svname') !== 'BACKEND')
      .map((row) => ({
        name: at(row, 'svname'),
        status: at(row, 'status'),
        sessions: Number(at(row, 'stot') || 0),
        connectErrors: Number(at(row, 'econ') || 0),
        retries: Number(at(row, 'wretr') || 0),
        redispatches: Number(at(row, 'wredis') || 0),
      }));
  };

  const waitUp = async (count: number, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (!proc.isRunning()) throw new Error(`haproxy exited:\n${proc.output()}`);
      try {
        const s = await stats();
        last = s.map((b) => `${b.name} ${b.status}`).join(', ');
        if (s.filter((b) => b.status === 'UP').length >= count) return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`HAProxy did not see ${count} replicas up within ${timeoutMs} ms (${last}):\n${proc.output()}`);
      await sleep(200);
    }
  };

  return { port, process: proc, configPath, stats, waitUp };
}
