import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// A throwaway PostgreSQL cluster for tests, from Debian's binaries (package postgresql): initdb in a
// temporary directory, pg_ctl start on 127.0.0.1 with a free port, no system service. Durability is
// off (fsync, synchronous_commit, full_page_writes): the data is gone at the end of the run anyway.
// PostgreSQL refuses to run as root, so as root (CI) the server runs as the `postgres` user the
// Debian package creates.

const run = promisify(execFile);

export const TEST_PG_USER = 'acme';
export const TEST_PG_PASSWORD = 'acme-test-password';

/** $ACME_PG_BIN when set (and nothing else), else the newest /usr/lib/postgresql/N/bin; null when absent. */
export function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates: string[] = [];
  const root = '/usr/lib/postgresql';
  if (env.ACME_PG_BIN) candidates.push(env.ACME_PG_BIN);
  else if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(root, v, 'bin')));
  }
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null;
}

export interface PostgresCluster {
  /** Superuser URL of the `postgres` maintenance database. */
  adminUrl: string;
  port: number;
  dataDir: string;
  /** Stops the server (fast shutdown: sessions are ended); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** uid/gid of the `postgres` user, when we are root and must hand the server to it. */
async function serverUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, but there is no `postgres` user to run the PostgreSQL server as (install Debian\'s postgresql package)');
  }
}

const CLUSTER_PREFIX = 'acme-pg-';
/** A directory this young without an owner file may be a cluster another run is making right now. */
const UNOWNED_GRACE_MS = 10 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Clusters left by a test process that died without disposing them (a killed suite): each cluster's
 * directory names the process that started it (owner.pid); when that process is gone, its server is
 * stopped and the directory removed. A cluster whose owner is alive belongs to a run going on beside
 * this one and is left alone.
 */
export async function sweepOrphanClusters(asServer: (cmd: string, args: string[]) => Promise<unknown>, parent = tmpdir()): Promise<void> {
  for (const name of readdirSync(parent).filter((n) => n.startsWith(CLUSTER_PREFIX))) {
    const base = join(parent, name);
    try {
      const ownerFile = join(base, 'owner.pid');
      if (existsSync(ownerFile) ? alive(Number(readFileSync(ownerFile, 'utf8'))) : Date.now() - statSync(base).mtimeMs < UNOWNED_GRACE_MS) continue;
      const dataDir = join(base, 'data');
      if (existsSync(join(dataDir, 'postmaster.pid'))) await asServer('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    } catch {
      // Another run's sweep got there first, or the directory is not ours to read: not this run's business.
    }
  }
}

export async function startPostgresCluster(binDir: string): Promise<PostgresCluster> {
  const owner = await serverUser();
  const asServer = (cmd: string, args: string[]) =>
    owner ? run('runuser', ['-u', 'postgres', '--', join(binDir, cmd), ...args]) : run(join(binDir, cmd), args);
  await sweepOrphanClusters(asServer);
  const base = mkdtempSync(join(tmpdir(), CLUSTER_PREFIX));
  writeFileSync(join(base, 'owner.pid'), String(process.pid));
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  mkdirSync(socketDir);
  const pwFile = join(base, 'pw');
  writeFileSync(pwFile, `${TEST_PG_PASSWORD}\n`, { mode: 0o600 });
  if (owner) for (const p of [base, socketDir, pwFile]) chownSync(p, owner.uid, owner.gid);

  await asServer('initdb', ['-D', dataDir, '-U', TEST_PG_USER, '-A', 'scram-sha-256', `--pwfile=${pwFile}`, '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C']);
  rmSync(pwFile);

  let port = 0;
  const logFile = join(base, 'server.log');
  const start = async () => {
    const options = [
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${socketDir}`,
      '-c fsync=off -c synchronous_commit=off -c full_page_writes=off',
      '-c max_connections=300 -c shared_buffers=64MB',
    ].join(' ');
    await asServer('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', options, 'start']);
  };
  // A free port can be taken between our probe and the server's bind: then try another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 3) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
        rmSync(base, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
      }
    }
  }
  const stop = async () => {
    await asServer('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  };
  return {
    adminUrl: `postgres://${TEST_PG_USER}:${TEST_PG_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop,
    start,
    dispose: async () => {
      await stop().catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
