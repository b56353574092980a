import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ensureGatewayBuilt, gatewayEntry, repoRoot } from './build.js';
import type { Harness } from './harness.js';
import { httpRequest, sleep } from './http.js';
import type { ManagedProcess } from './process.js';

// Starts the built gateway (`node dist/src/main.js serve --config <file>`) with its embedded PCA
// simulator in a fresh temp dir, and waits until GET <externalUrl>/directory answers 200 over TLS
// that chains to the simulator's root. The console output is not parsed (it is for humans).

export interface GatewayOptions {
  /** Port the gateway's http-01 validator connects to (validation.httpPort). Default: a free port. */
  validationHttpPort?: number;
  /** validation.tlsAlpnPort. Default: a free port. */
  tlsAlpnPort?: number;
  /** validation.dnsResolvers, e.g. [challtestsrv.dnsAddress]; [] = system resolver. */
  dnsResolvers?: string[];
  /** server.tls.mode: "pca" (default, https) or "none" (plain http). */
  tls?: 'pca' | 'none';
  /** pca.period (days). */
  periodDays?: number;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Extra top-level config merged over the generated one (shallow per section). */
  extraConfig?: Record<string, Record<string, unknown>>;
  /** simulator.dataDir (and so the root to trust); default: a fresh one in this gateway's data dir. */
  simulatorDataDir?: string;
  /** Directory deadline in ms (default 30 s). */
  startTimeoutMs?: number;
}

export interface Gateway {
  directoryUrl: string;
  externalUrl: string;
  /** PEM file of the root every issued chain (and the gateway's own https cert) verifies to. */
  rootPemPath: string;
  /** The temp dir holding config, sqlite and simulator data. */
  dataDir: string;
  configPath: string;
  /** The admin listener (http://127.0.0.1:<port>): /readyz, /metrics, the console, /api. */
  adminUrl: string;
  /** The admin token the gateway created in its data dir at start. */
  adminToken(): string;
  validationHttpPort: number;
  tlsAlpnPort: number;
  dnsResolvers: string[];
  /** The current gateway process (replaced by restart()). */
  process(): ManagedProcess;
  rootPem(): string;
  stop(): Promise<void>;
  /** SIGTERM, wait for exit, start again with the same config and files. */
  restart(): Promise<void>;
}

export async function startGateway(harness: Harness, opts: GatewayOptions = {}): Promise<Gateway> {
  await ensureGatewayBuilt();

  const dataDir = harness.tempDir('gateway');
  const port = await harness.freePort();
  const simulatorPort = await harness.freePort();
  const adminPort = await harness.freePort();
  const validationHttpPort = opts.validationHttpPort ?? (await harness.freePort());
  const tlsAlpnPort = opts.tlsAlpnPort ?? (await harness.freePort());
  const tlsMode = opts.tls ?? 'pca';
  const externalUrl = `${tlsMode === 'none' ? 'http' : 'https'}://localhost:${port}`;
  const simulatorDir = opts.simulatorDataDir ?? path.join(dataDir, 'pca');

  const config: Record<string, Record<string, unknown>> = {
    server: { listen: `127.0.0.1:${port}`, externalUrl, tls: { mode: tlsMode } },
    storage: { sqlite: path.join(dataDir, 'gateway.sqlite') },
    validation: { httpPort: validationHttpPort, tlsAlpnPort, dnsResolvers: opts.dnsResolvers ?? [] },
    pca: { kind: 'simulator', period: opts.periodDays ?? 90 },
    simulator: { listen: `127.0.0.1:${simulatorPort}`, dataDir: simulatorDir },
    logging: { level: opts.logLevel ?? 'info' },
    // Every gateway of a test file on its own admin port (the default 14002 is one per machine).
    admin: { listen: `127.0.0.1:${adminPort}`, tokenFile: path.join(dataDir, 'admin.token') },
  };
  for (const [section, values] of Object.entries(opts.extraConfig ?? {})) {
    config[section] = { ...(config[section] ?? {}), ...values };
  }
  const configPath = path.join(dataDir, 'gateway.yaml');
  fs.writeFileSync(configPath, stringify(config));

  const rootPemPath = path.join(simulatorDir, 'root.pem');
  const directoryUrl = `${externalUrl}/directory`;
  let current: ManagedProcess | undefined;
  let generation = 0;

  const launch = async (): Promise<void> => {
    generation += 1;
    const proc = harness.spawn(`gateway#${generation}`, process.execPath, [gatewayEntry(), 'serve', '--config', configPath], {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'test' },
    });
    current = proc;
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    let lastProblem = 'no attempt yet';
    for (;;) {
      if (!proc.isRunning()) {
        throw new Error(`gateway exited before its directory answered (${lastProblem}); config ${configPath}:\n${proc.output()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`gateway directory ${directoryUrl} did not answer 200 within the deadline (${lastProblem}):\n${proc.output()}`);
      }
      try {
        const caPem = tlsMode === 'none' ? undefined : fs.readFileSync(rootPemPath);
        const res = await httpRequest(directoryUrl, { caPem, timeoutMs: 2_000 });
        if (res.status === 200) return;
        lastProblem = `HTTP ${res.status}`;
      } catch (err) {
        lastProblem = (err as Error).message;
      }
      await sleep(200);
    }
  };

  const stop = async (): Promise<void> => {
    if (!current) return;
    const exit = await current.stop(10_000);
    if (exit.signal === 'SIGKILL') {
      throw new Error(`gateway ignored SIGTERM for 10 s and had to be killed:\n${current.output()}`);
    }
  };

  await launch();

  return {
    directoryUrl,
    externalUrl,
    rootPemPath,
    dataDir,
    configPath,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    adminToken: () => fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim(),
    validationHttpPort,
    tlsAlpnPort,
    dnsResolvers: opts.dnsResolvers ?? [],
    process: () => {
      if (!current) throw new Error('gateway not started');
      return current;
    },
    rootPem: () => fs.readFileSync(rootPemPath, 'utf8'),
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
