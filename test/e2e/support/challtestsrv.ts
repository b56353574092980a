import type { Harness } from './harness.js';
import { httpRequest, sleep } from './http.js';
import type { ManagedProcess } from './process.js';

// pebble-challtestsrv as the suite's DNS server: every A query answers 127.0.0.1 (so any test name
// reaches the local challenge responders), and TXT records for dns-01 are set over its management
// API. Its own http-01/https-01/tls-alpn-01 responders are switched off so they cannot take the
// ports the clients under test need. AAAA answers are switched off too (-defaultIPv6 ""), so a
// validator never tries ::1 while the clients listen on 127.0.0.1 only.

export interface ChallTestSrv {
  dnsPort: number;
  /** "127.0.0.1:<dnsPort>" — use as gateway validation.dnsResolvers / lego --dns.resolvers. */
  dnsAddress: string;
  managementUrl: string;
  process: ManagedProcess;
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  stop(): Promise<void>;
}

const fqdn = (host: string): string => (host.endsWith('.') ? host : `${host}.`);

export async function startChallTestSrv(harness: Harness, binary = 'pebble-challtestsrv'): Promise<ChallTestSrv> {
  const dnsPort = await harness.freePort({ udp: true });
  const mgmtPort = await harness.freePort();
  const proc = harness.spawn('pebble-challtestsrv', binary, [
    '-dns01', `127.0.0.1:${dnsPort}`,
    '-management', `127.0.0.1:${mgmtPort}`,
    '-http01', '',
    '-https01', '',
    '-tlsalpn01', '',
    '-defaultIPv4', '127.0.0.1',
    '-defaultIPv6', '',
  ]);
  const managementUrl = `http://127.0.0.1:${mgmtPort}`;

  const post = async (path: string, body: object): Promise<void> => {
    const res = await httpRequest(`${managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`challtestsrv ${path} -> ${res.status} ${res.body}`);
  };

  // Ready when the management API answers (the DNS listeners start before it).
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!proc.isRunning()) throw new Error(`pebble-challtestsrv exited early:\n${proc.output()}`);
    try {
      await post('/clear-txt', { host: 'ready-probe.invalid.' });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`pebble-challtestsrv did not start within 15 s:\n${proc.output()}`);
      await sleep(100);
    }
  }

  return {
    dnsPort,
    dnsAddress: `127.0.0.1:${dnsPort}`,
    managementUrl,
    process: proc,
    setTxt: (host, value) => post('/set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => post('/clear-txt', { host: fqdn(host) }),
    stop: async () => {
      await proc.stop();
    },
  };
}
