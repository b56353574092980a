import { findOnPath } from '../e2e/support/binaries.js';
import { freePort } from '../e2e/support/ports.js';
import { spawnManaged, type ManagedProcess } from '../e2e/support/process.js';

// pebble-challtestsrv (Debian "pebble") as a real DNS server on loopback for unit tests: CAA records
// are set over its management API (/add-caa, /clear-caa), A answers are 127.0.0.1 and AAAA none.
// Its challenge responders are off. Started the way the e2e suite starts it (e2e/support/challtestsrv.ts),
// without the e2e harness, so a unit test can use it. Null when the binary is not installed: the
// caller decides, through missingPrerequisite, whether that skips (a developer machine) or fails (CI).

export interface CaaPolicyRecord {
  tag: string;
  value: string;
}

export interface ChallTestSrvDns {
  /** "127.0.0.1:<port>" for createDnsResolver({ servers }). */
  server: string;
  addCaa(host: string, policies: CaaPolicyRecord[]): Promise<void>;
  clearCaa(host: string): Promise<void>;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const fqdn = (host: string): string => (host.endsWith('.') ? host : `${host}.`);

export async function startChallTestSrvDns(): Promise<ChallTestSrvDns | null> {
  const binary = findOnPath('pebble-challtestsrv');
  if (!binary) return null;
  const dnsPort = await freePort({ udp: true });
  const mgmtPort = await freePort({}, new Set([dnsPort]));
  const proc = spawnManaged('pebble-challtestsrv', binary, [
    '-dns01', `127.0.0.1:${dnsPort}`,
    '-management', `127.0.0.1:${mgmtPort}`,
    '-http01', '',
    '-https01', '',
    '-tlsalpn01', '',
    '-defaultIPv4', '127.0.0.1',
    '-defaultIPv6', '',
  ]);
  const post = async (path: string, body: object): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${mgmtPort}${path}`, { method: 'POST', body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`challtestsrv ${path} -> ${res.status} ${text}`);
  };

  // Ready when the management API answers (the DNS listeners start before it).
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!proc.isRunning()) throw new Error(`pebble-challtestsrv exited early:\n${proc.output()}`);
    try {
      await post('/clear-caa', { host: 'ready-probe.invalid.' });
      break;
    } catch {
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error(`pebble-challtestsrv did not start within 15 s:\n${proc.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    server: `127.0.0.1:${dnsPort}`,
    addCaa: (host, policies) => post('/add-caa', { host: fqdn(host), policies }),
    clearCaa: (host) => post('/clear-caa', { host: fqdn(host) }),
    process: proc,
    stop: async () => {
      await proc.stop();
    },
  };
}
