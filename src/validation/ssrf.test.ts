import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeDns, type FakeDnsServer, type Zone } from '../../test/support/fake-dns.js';
import { AddressPolicy } from '../acme/address-policy.js';
import { createDnsResolver, type DnsResolver } from '../platform/dns.js';
import { NetError, nodeDialer, type Dialer } from '../platform/net.js';
import { createHttp01Validator } from './http01.js';
import { createTlsAlpn01Validator } from './tls-alpn01.js';
import type { ValidationOutcome, ValidationRequest } from './types.js';

// Issue 9 "safe validation": the validator tried as an attacker on the network would. Names that
// resolve to the metadata service, to 0.0.0.0 or to an IPv4-mapped metadata address; redirects to the
// metadata address, to a loopback port that is not the validation port, to another loopback address,
// to file: and ftp:; a 30-hop loop; a never-ending and a huge body; DNS rebinding between hops. Each
// ends invalid with a detail that names why, and nothing reaches the forbidden target: listeners on
// the loopback targets count their connections, and a recording dialer lists every connect attempt
// (for addresses nothing here can listen on). The policy is the trial mode's, as with the embedded
// simulator: 127.0.0.1 and ::1 allowed, the rest of loopback denied.

const KEY_AUTH = 'tok-good.thumbprint_abcdefghijklmnopqrstuvwxyz012345';
const SECRET = 'INTERNAL-ONLY-PAGE-7f3a';
const TRIAL = new AddressPolicy({ trialLoopback: true });

interface Listener {
  server: net.Server;
  port: number;
  connections: number;
}

async function countingListener(host: string, port = 0): Promise<Listener> {
  const l: Listener = { server: net.createServer(), port: 0, connections: 0 };
  l.server.on('connection', (s) => {
    l.connections++;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    l.server.once('error', reject);
    l.server.listen(port, host, () => resolve());
  });
  l.port = (l.server.address() as net.AddressInfo).port;
  return l;
}

const close = (s: net.Server) => new Promise<void>((resolve) => s.close(() => resolve()));

/** Every connect attempt of the validators, as "http <address>:<port>" / "tls <address>:<port>". */
function recordingDialer(): Dialer & { attempts: string[] } {
  const attempts: string[] = [];
  return {
    attempts,
    httpGet(opts) {
      const port = opts.url.port || (opts.url.protocol === 'https:' ? '443' : '80');
      attempts.push(`http ${opts.address}:${port}`);
      return nodeDialer.httpGet(opts);
    },
    tlsProbe(opts) {
      attempts.push(`tls ${opts.address}:${opts.port}`);
      return nodeDialer.tlsProbe(opts);
    },
  };
}

function problemOf(outcome: ValidationOutcome) {
  if (outcome.valid) throw new Error(`expected an invalid outcome, got ${JSON.stringify(outcome)}`);
  return outcome.problem;
}

describe('http-01 and tls-alpn-01 against SSRF tricks', () => {
  let dns: FakeDnsServer;
  let resolver: DnsResolver;
  let web: http.Server;
  /** The validation port: where the attacker's own (allowed) server listens on 127.0.0.1. */
  let port: number;
  let webConnections = 0;
  /** Another port on 127.0.0.1, not the validation port. */
  let otherPort: Listener;
  /** 127.0.0.2 on the validation port: loopback, but not the trial mode's 127.0.0.1. */
  let loopback2: Listener;
  const rebind: Zone = { A: ['127.0.0.1'] };
  const onDrip: Array<() => void> = [];
  const zones = new Map<string, Zone>([
    ['good.attacker.test', { A: ['127.0.0.1'] }],
    ['metadata.attacker.test', { A: ['169.254.169.254'] }],
    ['zero.attacker.test', { A: ['0.0.0.0'] }],
    ['mapped.attacker.test', { AAAA: ['::ffff:a9fe:a9fe'] }], // ::ffff:169.254.169.254
    ['nat64.attacker.test', { AAAA: ['64:ff9b::a9fe:a9fe'] }], // 64:ff9b::169.254.169.254
    ['loopback2.attacker.test', { A: ['127.0.0.2'] }],
    ['mixed.attacker.test', { A: ['169.254.169.254', '127.0.0.1'] }],
    ['rebind.attacker.test', rebind],
  ]);

  const redirects = (): Record<string, string> => ({
    'to-metadata': `http://169.254.169.254:${port}/latest/meta-data/`,
    'to-metadata-https': 'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'to-metadata-name': `http://metadata.attacker.test:${port}/latest/meta-data/`,
    'to-metadata-mapped': `http://[::ffff:169.254.169.254]:${port}/latest/meta-data/`,
    'to-metadata-decimal': `http://2852039166:${port}/latest/meta-data/`, // 169.254.169.254 as one number
    'to-other-port': `http://127.0.0.1:${otherPort.port}/admin`,
    'to-other-loopback': `http://127.0.0.2:${port}/admin?token=s3cret`,
    'to-other-loopback-mapped': `http://[::ffff:127.0.0.2]:${port}/admin`,
    'to-other-loopback-name': `http://loopback2.attacker.test:${port}/admin`,
    'to-file': 'file:///etc/passwd',
    'to-ftp': 'ftp://127.0.0.1/.well-known/acme-challenge/good',
    'to-internal-page': `http://127.0.0.1:${port}/internal`,
    'rebind-first': `http://rebind.attacker.test:${port}/.well-known/acme-challenge/good`,
  });

  beforeAll(async () => {
    dns = await startFakeDns(zones);
    resolver = createDnsResolver({ servers: [dns.server] });
    web = http.createServer((req, res) => {
      const path = req.url ?? '';
      const token = path.replace('/.well-known/acme-challenge/', '');
      const target = redirects()[token];
      if (token === 'rebind-first') rebind.A = ['169.254.169.254']; // the answer changes after the check
      if (target) {
        res.writeHead(302, { Location: target });
        res.end();
        return;
      }
      const hop = /^\/hop-(\d+)$/.exec(path) ?? /^hop-(\d+)$/.exec(token);
      if (hop) {
        res.writeHead(302, { Location: `/hop-${Number(hop[1]) + 1}` });
        res.end();
        return;
      }
      switch (token) {
        case 'good':
          res.end(KEY_AUTH);
          return;
        case '/internal':
          res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
          res.end(`<html><body>${SECRET} ${'x'.repeat(2000)}</body></html>`);
          return;
        case 'endless': {
          // Never ends, no Content-Length: the body limit has to stop it.
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          const chunk = Buffer.from(`${SECRET}\n`.repeat(512));
          const pump = () => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
          return;
        }
        case 'huge':
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(10 * 1024 * 1024) });
          res.write(SECRET);
          return; // the validator hangs up at the header
        case 'drip':
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write(SECRET); // and never more, never the end
          for (const cb of onDrip.splice(0)) cb();
          return;
        default:
          res.writeHead(404);
          res.end();
      }
    });
    web.on('connection', () => webConnections++);
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    port = (web.address() as net.AddressInfo).port;
    otherPort = await countingListener('127.0.0.1');
    loopback2 = await countingListener('127.0.0.2', port);
  });

  afterAll(async () => {
    web.closeAllConnections();
    await Promise.all([close(web), close(otherPort.server), close(loopback2.server), dns.close()]);
  });

  let dialer: ReturnType<typeof recordingDialer>;
  beforeEach(() => {
    dialer = recordingDialer();
    webConnections = 0;
    otherPort.connections = 0;
    loopback2.connections = 0;
    rebind.A = ['127.0.0.1'];
  });

  const http01 = (timeoutMs = 5_000) => createHttp01Validator({ resolver, addressPolicy: TRIAL, port, timeoutMs, dialer });
  const viaName = (token: string, name = 'good.attacker.test'): ValidationRequest => ({ identifier: { type: 'dns', value: name }, token, keyAuthorization: KEY_AUTH });
  const allowedFirstHop = () => `http 127.0.0.1:${port}`;

  it('the set-up works: a good response through the fake DNS is valid, over 127.0.0.1', async () => {
    expect((await http01().validate(viaName('good'))).valid).toBe(true);
    expect(dialer.attempts).toEqual([allowedFirstHop()]);
  });

  it.each([
    ['169.254.169.254 (metadata)', 'metadata.attacker.test', '169.254.169.254 is in 169.254.0.0/16 (link-local (cloud metadata), denied by default)'],
    ['0.0.0.0 (this host)', 'zero.attacker.test', '0.0.0.0 is in 0.0.0.0/8 (unspecified ("this host"), denied by default)'],
    ['::ffff:169.254.169.254 (IPv4-mapped metadata)', 'mapped.attacker.test', 'is in 169.254.0.0/16 (link-local (cloud metadata), denied by default)'],
    ['64:ff9b::169.254.169.254 (NAT64 metadata)', 'nat64.attacker.test', 'is in 169.254.0.0/16 (link-local (cloud metadata), denied by default)'],
  ])('a name resolving to %s is refused before any connection', async (_what, name, rule) => {
    const p = problemOf(await http01().validate(viaName('good', name)));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain(`Refusing to connect to http://${name}:${port}/.well-known/acme-challenge/good`);
    expect(p.detail).toContain(rule);
    expect(dialer.attempts).toEqual([]);
    expect(webConnections).toBe(0); // 0.0.0.0 would have reached this 127.0.0.1 listener
  });

  it('of several addresses only an allowed one is dialled', async () => {
    expect((await http01().validate(viaName('good', 'mixed.attacker.test'))).valid).toBe(true);
    expect(dialer.attempts).toEqual([allowedFirstHop()]);
  });

  it.each([
    ['the metadata address on the validation port', 'to-metadata', '169.254.169.254 is in 169.254.0.0/16'],
    ['https://169.254.169.254/ (port 443)', 'to-metadata-https', '169.254.169.254 is in 169.254.0.0/16'],
    ['a name resolving to the metadata address', 'to-metadata-name', '169.254.169.254 is in 169.254.0.0/16'],
    ['the IPv4-mapped metadata address', 'to-metadata-mapped', 'is in 169.254.0.0/16'],
    ['the metadata address written as one decimal number', 'to-metadata-decimal', '169.254.169.254 is in 169.254.0.0/16'],
  ])('a redirect to %s is refused, re-checked at the hop', async (_what, token, rule) => {
    const p = problemOf(await http01().validate(viaName(token)));
    expect(p.type).toBe('connection');
    expect(p.detail).toMatch(/^Refusing to connect to /);
    expect(p.detail).toContain(rule);
    expect(p.detail).toContain('denied by default');
    expect(dialer.attempts).toEqual([allowedFirstHop()]); // only the first hop, never the target
  });

  it('a redirect to a loopback port that is not the validation port is refused, and nothing connects there', async () => {
    const p = problemOf(await http01().validate(viaName('to-other-port')));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain(`port ${otherPort.port} (only ${port} for http)`);
    expect(otherPort.connections).toBe(0);
    expect(dialer.attempts).toEqual([allowedFirstHop()]);
  });

  it.each([
    ['as an address', 'to-other-loopback', '127.0.0.2 is in 127.0.0.0/8 (loopback, denied by default)'],
    ['IPv4-mapped', 'to-other-loopback-mapped', 'is in 127.0.0.0/8 (loopback, denied by default)'],
    ['through a name', 'to-other-loopback-name', '127.0.0.2 is in 127.0.0.0/8 (loopback, denied by default)'],
  ])('a redirect to another loopback address (%s) is refused, and its listener sees no connection', async (_what, token, rule) => {
    const p = problemOf(await http01().validate(viaName(token)));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain(rule);
    expect(p.detail).not.toContain('s3cret'); // a query from a Location header is not repeated
    expect(loopback2.connections).toBe(0);
    expect(dialer.attempts).toEqual([allowedFirstHop()]);
  });

  it.each([
    ['file:', 'to-file', 'unsupported scheme "file:"'],
    ['ftp:', 'to-ftp', 'unsupported scheme "ftp:"'],
  ])('a redirect to %s is refused', async (_what, token, why) => {
    const p = problemOf(await http01().validate(viaName(token)));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain(why);
    expect(p.detail).not.toContain('/etc/passwd');
    expect(dialer.attempts).toEqual([allowedFirstHop()]);
  });

  it('a 30-hop redirect chain stops after 10 redirects', async () => {
    const p = problemOf(await http01().validate(viaName('hop-1')));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain('Too many redirects: more than 10');
    expect(dialer.attempts).toEqual(Array(11).fill(allowedFirstHop())); // the first request and 10 redirects
  });

  it('DNS rebinding between hops: the next hop is resolved and checked again, and refused', async () => {
    const p = problemOf(await http01().validate(viaName('rebind-first', 'rebind.attacker.test')));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain('rebind.attacker.test resolves only to addresses the validation address policy does not allow: 169.254.169.254 is in 169.254.0.0/16');
    expect(dialer.attempts).toEqual([allowedFirstHop()]);
    // One A query per hop: the address dialled is the one that was checked, never looked up again.
    expect(dns.queries.filter((q) => q === 'rebind.attacker.test 1')).toHaveLength(2);
  });

  it('an internal page reached through an allowed redirect is described, never echoed', async () => {
    const p = problemOf(await http01().validate(viaName('to-internal-page')));
    expect(p.type).toBe('incorrectResponse');
    expect(p.detail).not.toContain(SECRET);
    expect(p.detail).not.toContain('<html');
    expect(p.detail).toMatch(/got a 2(\.\d)? KiB text\/html body \(not shown/);
  });

  it('a never-ending body is cut at the limit and described, not echoed', async () => {
    const p = problemOf(await http01().validate(viaName('endless')));
    expect(p.type).toBe('incorrectResponse');
    expect(p.detail).toContain('larger than 8192 bytes (a text/plain body of more than 8 KiB)');
    expect(p.detail).not.toContain(SECRET);
  });

  it('a huge body is refused at its Content-Length', async () => {
    const p = problemOf(await http01().validate(viaName('huge')));
    expect(p.type).toBe('incorrectResponse');
    expect(p.detail).toContain('(a 10 MiB application/octet-stream body)');
    expect(p.detail).not.toContain(SECRET);
  });

  it('a body that never ends and never grows ends at the validation deadline, not echoed', async () => {
    // Fake timers drive the deadline (outcome.ts Deadline); the socket stays real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const v = createHttp01Validator({ resolver, addressPolicy: TRIAL, port, timeoutMs: 1_000, dialer });
      const dripping = new Promise<void>((resolve) => onDrip.push(resolve));
      let settled = false;
      const outcome = v.validate({ identifier: { type: 'ip', value: '127.0.0.1' }, token: 'drip', keyAuthorization: KEY_AUTH }).finally(() => (settled = true));
      await dripping;
      await vi.advanceTimersByTimeAsync(999);
      expect(settled).toBe(false); // the response started: only the deadline can end it
      await vi.advanceTimersByTimeAsync(1);
      const p = problemOf(await outcome);
      expect(p.type).toBe('connection');
      expect(p.detail).toBe(`Timeout after 1000 ms while fetching http://127.0.0.1:${port}/.well-known/acme-challenge/drip`);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ['169.254.169.254', '169.254.169.254 is in 169.254.0.0/16 (link-local (cloud metadata), denied by default)'],
    ['::ffff:169.254.169.254', 'is in 169.254.0.0/16 (link-local (cloud metadata), denied by default)'],
    ['0.0.0.0', '0.0.0.0 is in 0.0.0.0/8'],
    ['127.0.0.2', '127.0.0.2 is in 127.0.0.0/8 (loopback, denied by default)'],
  ])('an IP identifier %s is refused by http-01 before any connection', async (ip, rule) => {
    const p = problemOf(await http01().validate({ identifier: { type: 'ip', value: ip }, token: 'good', keyAuthorization: KEY_AUTH }));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain(rule);
    expect(dialer.attempts).toEqual([]);
    expect(loopback2.connections + webConnections).toBe(0);
  });

  describe('tls-alpn-01', () => {
    let tlsLoopback2: Listener;
    beforeAll(async () => {
      tlsLoopback2 = await countingListener('127.0.0.2');
    });
    afterAll(() => close(tlsLoopback2.server));

    const alpn = () => createTlsAlpn01Validator({ resolver, addressPolicy: TRIAL, port: tlsLoopback2.port, timeoutMs: 5_000, dialer });

    it.each([
      ['a name resolving to the metadata address', { type: 'dns' as const, value: 'metadata.attacker.test' }, '169.254.169.254 is in 169.254.0.0/16'],
      ['a name resolving to the IPv4-mapped metadata address', { type: 'dns' as const, value: 'mapped.attacker.test' }, 'is in 169.254.0.0/16'],
      ['the IP identifier 169.254.169.254', { type: 'ip' as const, value: '169.254.169.254' }, '169.254.169.254 is in 169.254.0.0/16'],
      ['a name resolving to another loopback address', { type: 'dns' as const, value: 'loopback2.attacker.test' }, '127.0.0.2 is in 127.0.0.0/8 (loopback'],
      ['the IP identifier 127.0.0.2', { type: 'ip' as const, value: '127.0.0.2' }, '127.0.0.2 is in 127.0.0.0/8 (loopback'],
    ])('%s is refused before the handshake', async (_what, identifier, rule) => {
      const p = problemOf(await alpn().validate({ identifier, token: 't', keyAuthorization: KEY_AUTH }));
      expect(p.type).toBe('connection');
      expect(p.detail).toContain(`for tls-alpn-01: `);
      expect(p.detail).toContain(rule);
      expect(dialer.attempts).toEqual([]);
      expect(tlsLoopback2.connections).toBe(0);
    });
  });

  it('the dialers refuse a host name outright: nothing is left for getaddrinfo to resolve', async () => {
    const signal = new AbortController().signal;
    const url = new URL(`http://localhost:${port}/.well-known/acme-challenge/good`);
    await expect(nodeDialer.httpGet({ url, address: 'localhost', signal, maxBodyBytes: 100 })).rejects.toThrow(NetError);
    await expect(nodeDialer.tlsProbe({ address: 'localhost', port, servername: 'localhost', alpnProtocols: ['acme-tls/1'], signal })).rejects.toThrow(/not an IP address/);
    expect(webConnections).toBe(0);
  });
});
