import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { buildGateway } from '../src/deps.js';
import { listen } from '../src/http/listener.js';
import { makeSelfSigned } from './self-signed.js';

// The servers under test. Each gives a directory URL, the CA PEM to trust, a way to read the CPU
// it has used, and a close() that removes everything it created.

export interface Target {
  name: string;
  directoryUrl: string;
  caPem: string | null;
  /** CPU used by the server so far, in ms (user + system). */
  cpuMs(): number;
  describe: string;
  close(): Promise<void>;
}

export interface LoadPorts {
  dnsPort: number;
  challengePort: number;
}

/**
 * The real gateway in this process: buildGateway + listen on 127.0.0.1:0, a temp SQLite file, the
 * embedded PCA simulator on 127.0.0.1:0, real http-01 validation through the bench's DNS responder.
 */
export async function startGatewayTarget(ports: LoadPorts, opts: { tls: boolean }): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'acme-bench-gw-'));
  // The external URL must carry the port, and the port is known only once listening: listen first
  // with a request handler that forwards to the app built just after.
  let forward: ((req: Request, env: unknown) => Response | Promise<Response>) | null = null;
  const front = {
    fetch: (req: Request, env: unknown) => (forward ? forward(req, env) : new Response('starting', { status: 503 })),
  };
  const placeholder = opts.tls ? await makeSelfSigned('bench placeholder') : null;
  const listener = await listen(front as never, { host: '127.0.0.1', port: 0, tls: placeholder });
  const externalUrl = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${listener.port}`;
  try {
    const config = parseConfig(
      {
        server: { listen: `127.0.0.1:${listener.port}`, externalUrl, tls: { mode: opts.tls ? 'pca' : 'none' } },
        storage: { sqlite: join(dir, 'gateway.sqlite') },
        validation: { httpPort: ports.challengePort, dnsResolvers: [`127.0.0.1:${ports.dnsPort}`] },
        simulator: { listen: '127.0.0.1:0', dataDir: join(dir, 'pca-simulator') },
        // The benchmark measures throughput: every client is 127.0.0.1 and may make an account per
        // order (--fresh-accounts), which the per-address and per-account limits exist to stop.
        rateLimits: { newOrdersPerAccount: 0, newAccountsPerIp: 0, failedValidationsPerIdentifier: 0, pendingOrdersPerAccount: 0, concurrentValidationsPerAccount: 0 },
        logging: { level: 'error' },
      },
      {},
      'bench',
    );
    const gw = await buildGateway(config);
    if (gw.servingCertificate) {
      // The same path as `serve` with tls.mode "pca": the listener's certificate comes from the PCA.
      listener.setCredentials(await gw.servingCertificate.init());
    }
    forward = (req, env) => gw.app.fetch(req, env as never);
    const caPem = opts.tls ? gw.trustAnchorPems().join('') : null;
    return {
      name: 'gateway',
      directoryUrl: `${externalUrl}/directory`,
      caPem,
      cpuMs: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      },
      describe: `acme-pca-gateway in-process (${opts.tls ? 'https, tls.mode pca' : 'http, tls.mode none'}), temp SQLite, embedded PCA simulator ${gw.simulator?.url ?? ''}`,
      async close() {
        await listener.close();
        await gw.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export const PEBBLE_BIN = '/usr/bin/pebble';

/** Pebble (the Let's Encrypt test server) as a child process, with the bench's DNS and http-01 port. */
export async function startPebbleTarget(ports: LoadPorts): Promise<Target | null> {
  if (!existsSync(PEBBLE_BIN)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'acme-bench-pebble-'));
  const tlsCert = await makeSelfSigned('bench pebble');
  writeFileSync(join(dir, 'cert.pem'), tlsCert.certPem);
  writeFileSync(join(dir, 'key.pem'), tlsCert.keyPem, { mode: 0o600 });
  const [port, mgmtPort, tlsPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: ports.challengePort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child = spawn(PEBBLE_BIN, ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${ports.dnsPort}`], {
    cwd: dir,
    // No artificial validation delay and no random nonce rejection: measure the server's work.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8_000); // bounded: Pebble logs every request
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killTimer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`pebble exited early:\n${output}`);
    }
    if ((await httpsStatus(directoryUrl, tlsCert.certPem)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pebble did not answer ${directoryUrl} within 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ticks = clockTicksPerSecond();
  const pid = child.pid!;
  return {
    name: 'pebble',
    directoryUrl,
    caPem: tlsCert.certPem,
    cpuMs: () => {
      // /proc/<pid>/stat fields 14 and 15 (utime, stime) cover all of the process's threads.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)\s/, '').split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
    },
    describe: `${PEBBLE_BIN} (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0, -dnsserver 127.0.0.1:${ports.dnsPort})`,
    close: stop,
  };
}

function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, timeout: 2_000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
