import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { missingPrerequisite } from '../../test/support/prerequisites.js';
import { AddressPolicy } from '../acme/address-policy.js';
import { DnsError, type DnsResolver } from '../platform/dns.js';
import { createHttp01Validator } from './http01.js';
import type { ValidationOutcome, ValidationRequest } from './types.js';

const KEY_AUTH = 'tok-good.thumbprint_abcdefghijklmnopqrstuvwxyz012345';
/** A key authorization for another account key: the shape the validator may quote back. */
const OTHER_KEY_AUTH = 'tok-good.0therThumbprint_abcdefghijklmnopqrstuvwxyz0';
/** The trial-mode policy: 127.0.0.1 and ::1 are where these tests' servers listen. */
const TRIAL = new AddressPolicy({ trialLoopback: true });

/** A hand-written resolver: names map to addresses or to an error; it records what it was asked. */
function fakeResolver(table: Record<string, string[] | Error>): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    servers: ['fake:53'],
    serversFor: () => ['fake:53'],
    async resolveAddresses(name) {
      asked.push(name);
      const entry = table[name];
      if (entry === undefined) throw new DnsError('nxdomain', 'A/AAAA', name, 'ENOTFOUND');
      if (entry instanceof Error) throw entry;
      return entry;
    },
    async resolveTxt(name) {
      throw new DnsError('nodata', 'TXT', name);
    },
    async resolveCaa(name) {
      throw new DnsError('nodata', 'CAA', name);
    },
  };
}

const neverResolver: DnsResolver = {
  servers: [],
  serversFor: () => [],
  resolveAddresses: () => new Promise<string[]>(() => {}),
  resolveTxt: () => new Promise<string[]>(() => {}),
  resolveCaa: () => new Promise(() => {}),
};

function problemOf(outcome: ValidationOutcome) {
  if (outcome.valid) throw new Error('expected an invalid outcome');
  return outcome.problem;
}

describe('http-01 validator', () => {
  let server: http.Server;
  let port: number;
  const hostHeaders: string[] = [];
  /** Requests to tok-hang the server holds unanswered, and who waits for the next one. */
  const hung: http.IncomingMessage[] = [];
  const onHang: Array<() => void> = [];
  const nextHang = () => new Promise<void>((resolve) => onHang.push(resolve));

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hostHeaders.push(req.headers.host ?? '');
      const token = (req.url ?? '').replace('/.well-known/acme-challenge/', '');
      switch (token) {
        case 'tok-good':
          res.end(KEY_AUTH + '\r\n \n');
          return;
        case 'tok-wrong':
          res.end('this is not the key authorization');
          return;
        case 'tok-other-key':
          res.end(OTHER_KEY_AUTH + '\n');
          return;
        case 'tok-leading-space':
          res.end(' ' + KEY_AUTH);
          return;
        case 'tok-huge':
          // No Content-Length: the limit must hold while streaming.
          res.write(KEY_AUTH);
          res.write('x'.repeat(64 * 1024));
          res.end();
          return;
        case 'tok-huge-declared':
          res.writeHead(200, { 'Content-Length': String(1024 * 1024) });
          res.end(Buffer.alloc(1024 * 1024, 'y'));
          return;
        case 'tok-loop':
          res.writeHead(302, { Location: '/.well-known/acme-challenge/tok-loop' });
          res.end();
          return;
        case 'tok-redirect':
          res.writeHead(301, { Location: `http://redirected.example.test:${port}/.well-known/acme-challenge/tok-good` });
          res.end();
          return;
        case 'tok-redirect-badport':
          res.writeHead(302, { Location: 'http://127.0.0.1:1/.well-known/acme-challenge/tok-good' });
          res.end();
          return;
        case 'tok-redirect-ftp':
          res.writeHead(302, { Location: 'ftp://127.0.0.1/tok-good' });
          res.end();
          return;
        case 'tok-hang':
          hung.push(req);
          for (const cb of onHang.splice(0)) cb();
          return; // never answers
        default:
          res.writeHead(404);
          res.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const resolver = () => fakeResolver({ 'example.test': ['127.0.0.1', '::1'], 'redirected.example.test': ['127.0.0.1'] });
  const dnsReq = (token: string, extra: Partial<ValidationRequest> = {}): ValidationRequest => ({
    identifier: { type: 'dns', value: 'example.test' },
    token,
    keyAuthorization: KEY_AUTH,
    ...extra,
  });

  it('accepts the key authorization with trailing whitespace, resolving the name through the resolver', async () => {
    const r = resolver();
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: r, port, timeoutMs: 5_000 });
    expect(v.type).toBe('http-01');
    hostHeaders.length = 0;
    const outcome = await v.validate(dnsReq('tok-good'));
    expect(outcome).toEqual({
      valid: true,
      record: {
        url: `http://example.test:${port}/.well-known/acme-challenge/tok-good`,
        hostname: 'example.test',
        port,
        addressesResolved: ['127.0.0.1', '::1'],
        addressUsed: '127.0.0.1',
        resolvers: ['fake:53'],
      },
    });
    expect(r.asked).toEqual(['example.test']);
    expect(hostHeaders).toEqual([`example.test:${port}`]);
  });

  it('connects to an IP identifier directly, without DNS (RFC 8738 §3)', async () => {
    const r = fakeResolver({});
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: r, port, timeoutMs: 5_000 });
    hostHeaders.length = 0;
    const outcome = await v.validate({ identifier: { type: 'ip', value: '127.0.0.1' }, token: 'tok-good', keyAuthorization: KEY_AUTH });
    expect(outcome.valid).toBe(true);
    expect(outcome.record.addressUsed).toBe('127.0.0.1');
    expect(r.asked).toEqual([]);
    expect(hostHeaders).toEqual([`127.0.0.1:${port}`]);
  });

  it('rejects a wrong body as incorrectResponse, describing it without echoing it (issue 9)', async () => {
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000 });
    const p = problemOf(await v.validate(dnsReq('tok-wrong')));
    expect(p.type).toBe('incorrectResponse');
    expect(p.identifier).toEqual({ type: 'dns', value: 'example.test' });
    expect(p.detail).not.toContain('this is not');
    expect(p.detail).toContain('got a 33-byte body (not shown');
    expect(p.detail).toContain(`http://example.test:${port}/.well-known/acme-challenge/tok-wrong`);
    expect(problemOf(await v.validate(dnsReq('tok-leading-space'))).type).toBe('incorrectResponse');
  });

  it('quotes a wrong body that has the shape of a key authorization (another account key)', async () => {
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000 });
    const p = problemOf(await v.validate(dnsReq('tok-other-key')));
    expect(p.type).toBe('incorrectResponse');
    expect(p.detail).toContain(`got ${JSON.stringify(OTHER_KEY_AUTH)}`);
  });

  it('reports a 404 as unauthorized with the status', async () => {
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000 });
    const p = problemOf(await v.validate(dnsReq('tok-missing')));
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toContain('HTTP 404');
  });

  it('rejects a body over the limit as incorrectResponse, streamed or declared', async () => {
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000 });
    const streamed = problemOf(await v.validate(dnsReq('tok-huge')));
    expect(streamed.type).toBe('incorrectResponse');
    expect(streamed.detail).toContain('8192 bytes');
    const declared = problemOf(await v.validate(dnsReq('tok-huge-declared')));
    expect(declared.type).toBe('incorrectResponse');
  });

  it('follows a redirect to another name on the validation port', async () => {
    const r = resolver();
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: r, port, timeoutMs: 5_000 });
    const outcome = await v.validate(dnsReq('tok-redirect'));
    expect(outcome.valid).toBe(true);
    expect(r.asked).toEqual(['example.test', 'redirected.example.test']);
    expect(outcome.record.url).toBe(`http://redirected.example.test:${port}/.well-known/acme-challenge/tok-good`);
  });

  it('stops a redirect loop after maxRedirects', async () => {
    hostHeaders.length = 0;
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000, maxRedirects: 3 });
    const p = problemOf(await v.validate(dnsReq('tok-loop')));
    expect(p.type).toBe('connection');
    expect(p.detail).toMatch(/Too many redirects \(redirect loop\)/);
    expect(hostHeaders).toHaveLength(4); // the first request and 3 redirects
    const v10 = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000 });
    expect(problemOf(await v10.validate(dnsReq('tok-loop'))).detail).toContain('more than 10');
  });

  it('refuses redirects to other ports or schemes', async () => {
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 5_000 });
    const badPort = problemOf(await v.validate(dnsReq('tok-redirect-badport')));
    expect(badPort.type).toBe('connection');
    expect(badPort.detail).toContain('port 1');
    const ftp = problemOf(await v.validate(dnsReq('tok-redirect-ftp')));
    expect(ftp.type).toBe('connection');
    expect(ftp.detail).toContain('scheme');
  });

  it('reports nothing listening as a connection problem naming the target', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port: closedPort, timeoutMs: 5_000 });
    const p = problemOf(await v.validate(dnsReq('tok-good')));
    expect(p.type).toBe('connection');
    expect(p.detail).toContain('refused');
    expect(p.detail).toContain(`127.0.0.1:${closedPort}`);
  });

  it('times out a server that never answers, as a connection problem, at the deadline and not before', async () => {
    // Fake timers drive the validation deadline (outcome.ts Deadline); the socket stays real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 300 });
      const arrived = nextHang();
      let settled = false;
      const outcome = v.validate(dnsReq('tok-hang')).finally(() => (settled = true));
      await arrived;
      const held = hung.at(-1)!;
      const closed = new Promise<void>((resolve) => held.socket.once('close', () => resolve()));
      await vi.advanceTimersByTimeAsync(299);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const p = problemOf(await outcome);
      expect(p.type).toBe('connection');
      expect(p.detail).toBe(`Timeout after 300 ms while fetching http://example.test:${port}/.well-known/acme-challenge/tok-hang (127.0.0.1:${port})`);
      // The validator hung up: the server sees its connection closed.
      await closed;
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops when the caller aborts, long before its own deadline', async () => {
    const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: resolver(), port, timeoutMs: 600_000 });
    const controller = new AbortController();
    const arrived = nextHang();
    const outcome = v.validate(dnsReq('tok-hang', { signal: controller.signal }));
    await arrived;
    const closed = new Promise<void>((resolve) => hung.at(-1)!.socket.once('close', () => resolve()));
    controller.abort();
    const p = problemOf(await outcome);
    expect(p.type).toBe('connection');
    expect(p.detail).toContain('cancelled');
    await closed;
    const already = problemOf(await v.validate(dnsReq('tok-good', { signal: AbortSignal.abort() })));
    expect(already.type).toBe('connection');
  });

  it('maps DNS failures to dns problems', async () => {
    const v = createHttp01Validator({
      addressPolicy: TRIAL,
      resolver: fakeResolver({ 'example.test': new DnsError('servfail', 'A/AAAA', 'example.test', 'ESERVFAIL') }),
      port,
      timeoutMs: 5_000,
    });
    const servfail = problemOf(await v.validate(dnsReq('tok-good')));
    expect(servfail.type).toBe('dns');
    expect(servfail.detail).toContain('SERVFAIL');
    const nx = problemOf(await v.validate({ ...dnsReq('tok-good'), identifier: { type: 'dns', value: 'nowhere.example.test' } }));
    expect(nx.type).toBe('dns');
    expect(nx.detail).toContain('NXDOMAIN');
    expect(nx.identifier).toEqual({ type: 'dns', value: 'nowhere.example.test' });
    const hung = createHttp01Validator({ addressPolicy: TRIAL, resolver: neverResolver, port, timeoutMs: 200 });
    const timeout = problemOf(await hung.validate(dnsReq('tok-good')));
    expect(timeout.type).toBe('dns');
    expect(timeout.detail).toContain('timeout');
  });

  it('brackets an IPv6 identifier in the URL and Host header', async (ctx) => {
    const v6 = http.createServer((req, res) => {
      hostHeaders.push(req.headers.host ?? '');
      res.end(KEY_AUTH);
    });
    const listening = await new Promise<boolean>((resolve) => {
      v6.once('error', () => resolve(false));
      v6.listen(0, '::1', () => resolve(true));
    });
    if (!listening) missingPrerequisite('the IPv6 loopback (listening on ::1)', ctx);
    const v6Port = (v6.address() as AddressInfo).port;
    try {
      hostHeaders.length = 0;
      const v = createHttp01Validator({ addressPolicy: TRIAL, resolver: fakeResolver({}), port: v6Port, timeoutMs: 5_000 });
      const outcome = await v.validate({ identifier: { type: 'ip', value: '0:0::1' }, token: 'tok-good', keyAuthorization: KEY_AUTH });
      expect(outcome.valid).toBe(true);
      expect(outcome.record.url).toBe(`http://[::1]:${v6Port}/.well-known/acme-challenge/tok-good`);
      expect(hostHeaders).toEqual([`[::1]:${v6Port}`]);
    } finally {
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });
});
