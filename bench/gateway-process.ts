import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHttpClient } from './load/http.js';

// The gateway as vs-pebble.sh runs it: `node dist/src/main.js serve` in its own process, SQLite file
// and embedded simulator, tls.mode pca, validating for real against the bench's DNS responder and
// http-01 server. For the benchmarks that need the process apart from the load (scale.ts,
// memory.ts): its CPU and RSS are its own, read from /proc.

export interface GatewayProcess {
  directoryUrl: string;
  caPem: string;
  pid: number;
  /** Resident set size now, in MiB (/proc/<pid>/status VmRSS). */
  rssMiB(): number;
  /** User + system CPU used so far, in ms (/proc/<pid>/stat). */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the gateway on `sqlite` (a fresh file in a temp dir when null); `extraNodeArgs` go before the script. */
export async function startGatewayProcess(o: {
  sqlite: string | null;
  dnsPort: number;
  httpPort: number;
  extraNodeArgs?: string[];
  logLevel?: string;
  /** More top-level configuration lines (YAML flow style), e.g. rate limits off. */
  extraConfig?: string[];
}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'acme-bench-proc-'));
  const [port, simPort, alpnPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const sqlite = o.sqlite ?? join(dir, 'gateway.sqlite');
  // Beside a given database the simulator's CA stays from run to run: the serving certificate the
  // gateway caches there (tls.mode pca) must keep chaining to the root the client trusts. Only the
  // CA: each run's simulator starts with no certificates issued or revoked, as an empty database's
  // run does, so a run is not slowed by the CRLs of the runs before it (its CRL is built, fetched and
  // read on every revoke, and grows with every certificate revoked).
  const simDir = join(dir, 'pca-simulator');
  const keptCa = o.sqlite ? join(dirname(o.sqlite), 'pca-simulator') : null;
  if (keptCa && existsSync(join(keptCa, 'ca'))) {
    mkdirSync(simDir, { recursive: true, mode: 0o700 });
    for (const part of ['ca', 'ca-tag', 'root.pem']) if (existsSync(join(keptCa, part))) cpSync(join(keptCa, part), join(simDir, part), { recursive: true });
  }
  const config = join(dir, 'gw.yaml');
  writeFileSync(
    config,
    [
      `server: { listen: "127.0.0.1:${port}", externalUrl: "https://localhost:${port}", tls: { mode: pca } }`,
      `storage: { sqlite: "${sqlite}" }`,
      `validation: { httpPort: ${o.httpPort}, tlsAlpnPort: ${alpnPort}, dnsResolvers: ["127.0.0.1:${o.dnsPort}"] }`,
      'pca: { kind: simulator, period: 30 }',
      `simulator: { listen: "127.0.0.1:${simPort}", dataDir: "${simDir}" }`,
      `logging: { level: ${o.logLevel ?? 'warn'} }`,
      // Its own admin listener (/readyz, /metrics): two of these processes, or another gateway on
      // the machine, must not meet on the default 127.0.0.1:14002.
      `admin: { listen: "127.0.0.1:${adminPort}", tokenFile: "${join(dir, 'admin.token')}" }`,
      ...(o.extraConfig ?? []),
      // The filled database's EAB key-encryption key lives with this run, not beside the shared file.
      `acme: { eabKekFile: "${join(dir, 'eab-kek.key')}" }`,
    ].join('\n'),
  );
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [...(o.extraNodeArgs ?? []), 'dist/src/main.js', 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const rootPem = join(simDir, 'root.pem');
  const directoryUrl = `https://localhost:${port}/directory`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`the gateway exited at start:\n${output}`);
    }
    if (existsSync(rootPem)) {
      const http = createHttpClient({ caPem: readFileSync(rootPem, 'utf8'), maxSockets: 1, timeoutMs: 2_000 });
      try {
        if ((await http.request('GET', directoryUrl)).status === 200) break;
      } catch {
        // not listening yet
      } finally {
        http.close();
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the gateway did not start within 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (keptCa && !existsSync(join(keptCa, 'ca'))) {
    mkdirSync(keptCa, { recursive: true, mode: 0o700 });
    for (const part of ['ca', 'ca-tag', 'root.pem']) if (existsSync(join(simDir, part))) cpSync(join(simDir, part), join(keptCa, part), { recursive: true });
  }
  const pid = child.pid!;
  return {
    directoryUrl,
    caPem: readFileSync(rootPem, 'utf8'),
    pid,
    rssMiB: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
    cpuMs: () => {
      // Fields 14 and 15 (utime, stime) in clock ticks, after the command name in parentheses.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    },
    stop,
  };
}
