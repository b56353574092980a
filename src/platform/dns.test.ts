import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeDns, type FakeDnsServer, type Zone } from '../../test/support/fake-dns.js';
import { createDnsResolver, DnsError } from './dns.js';

// Against a tiny authoritative UDP DNS server on 127.0.0.1 (test/support/fake-dns.ts) whose answers
// the tests choose, including the failures a real resolver can hand back: NXDOMAIN, SERVFAIL,
// REFUSED and silence.

describe('createDnsResolver against a loopback DNS server', () => {
  const zones = new Map<string, Zone>([
    ['both.example.test', { A: ['127.0.0.1'], AAAA: ['::1'] }],
    ['v4only.example.test', { A: ['127.0.0.2', '127.0.0.3'] }],
    ['v6only.example.test', { AAAA: ['2001:db8::5'] }],
    ['empty.example.test', {}],
    ['_acme-challenge.txt.example.test', { TXT: [['abc', 'def'], ['single']] }],
    ['servfail.example.test', { rcode: 2 }],
    ['refused.example.test', { rcode: 5 }],
    ['silent.example.test', { silent: true }],
  ]);
  let server: FakeDnsServer;
  let servers: string[];

  beforeAll(async () => {
    server = await startFakeDns(zones);
    servers = [`127.0.0.1:${server.port}`];
  });
  afterAll(() => server.close());

  const kindOf = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DnsError);
    return (err as DnsError).kind;
  };

  it('reports the servers it queries', () => {
    expect(createDnsResolver({ servers }).servers).toEqual(servers);
    expect(createDnsResolver({ servers: [] }).servers.length).toBeGreaterThanOrEqual(0);
  });

  it('rejects an unusable server string at creation', () => {
    expect(() => createDnsResolver({ servers: ['not an address'] })).toThrow();
  });

  it('returns IPv4 addresses before IPv6 ones', async () => {
    const r = createDnsResolver({ servers });
    expect(await r.resolveAddresses('both.example.test')).toEqual(['127.0.0.1', '::1']);
    expect(await r.resolveAddresses('v4only.example.test')).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(await r.resolveAddresses('v6only.example.test')).toEqual(['2001:db8::5']);
  });

  it('returns an IP literal as is, without a query', async () => {
    const r = createDnsResolver({ servers: ['127.0.0.1:9'] });
    expect(await r.resolveAddresses('192.0.2.7')).toEqual(['192.0.2.7']);
    expect(await r.resolveAddresses('::1')).toEqual(['::1']);
  });

  it('joins the character-strings of each TXT record', async () => {
    const r = createDnsResolver({ servers });
    expect(await r.resolveTxt('_acme-challenge.txt.example.test')).toEqual(['abcdef', 'single']);
  });

  it('maps NXDOMAIN, NODATA, SERVFAIL and REFUSED to typed errors', async () => {
    const r = createDnsResolver({ servers });
    expect(await kindOf(r.resolveAddresses('missing.example.test'))).toBe('nxdomain');
    expect(await kindOf(r.resolveTxt('missing.example.test'))).toBe('nxdomain');
    expect(await kindOf(r.resolveAddresses('empty.example.test'))).toBe('nodata');
    expect(await kindOf(r.resolveTxt('empty.example.test'))).toBe('nodata');
    expect(await kindOf(r.resolveTxt('servfail.example.test'))).toBe('servfail');
    expect(await kindOf(r.resolveAddresses('servfail.example.test'))).toBe('servfail');
    expect(await kindOf(r.resolveTxt('refused.example.test'))).toBe('refused');
  });

  it('gives up with a timeout at its hard limit when the server never answers, and not before', async () => {
    // The hard limit is the resolver's own timer (fake here); c-ares' retries, at a third of a long
    // limit, cannot end the lookup first.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const r = createDnsResolver({ servers, timeoutMs: 120_000 });
      const asked = server.nextQuery('silent.example.test');
      let settled = false;
      const result = r.resolveTxt('silent.example.test').then(
        () => undefined,
        (e: unknown) => e,
      );
      void result.finally(() => (settled = true));
      await asked;
      await vi.advanceTimersByTimeAsync(119_999);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const err = await result;
      expect(err).toBeInstanceOf(DnsError);
      expect((err as DnsError).kind).toBe('timeout');
      expect((err as DnsError).message).toContain('silent.example.test');
    } finally {
      vi.useRealTimers();
    }
  });

  // The resolver reuses a c-ares channel once its lookup ended (issue 11). Node's c-ares keeps no
  // answer cache, so a changed record is seen at once (fake-dns answers with a TTL of 60 s), and an
  // abort still ends only its own lookup.
  it('asks the server again on every lookup: a changed record is seen at once', async () => {
    const r = createDnsResolver({ servers });
    zones.set('changing.example.test', { TXT: [['first']] });
    expect(await r.resolveTxt('changing.example.test')).toEqual(['first']);
    zones.set('changing.example.test', { TXT: [['second']] });
    expect(await r.resolveTxt('changing.example.test')).toEqual(['second']);
    expect(server.queries.filter((q) => q.startsWith('changing.example.test ')).length).toBe(2);
  });

  it('an aborted lookup does not end another one running beside it, nor the next one', async () => {
    const r = createDnsResolver({ servers, timeoutMs: 600_000 });
    await r.resolveTxt('_acme-challenge.txt.example.test'); // leaves an idle channel behind
    const controller = new AbortController();
    const asked = server.nextQuery('silent.example.test');
    const stuck = kindOf(r.resolveTxt('silent.example.test', { signal: controller.signal }));
    await asked;
    const beside = r.resolveAddresses('v4only.example.test');
    controller.abort();
    expect(await stuck).toBe('aborted');
    expect(await beside).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(await r.resolveTxt('_acme-challenge.txt.example.test')).toEqual(['abcdef', 'single']);
  });

  it('stops when the caller aborts, long before its limit', async () => {
    const r = createDnsResolver({ servers, timeoutMs: 600_000 });
    const controller = new AbortController();
    const asked = server.nextQuery('silent.example.test');
    const lookup = kindOf(r.resolveAddresses('silent.example.test', { signal: controller.signal }));
    await asked;
    controller.abort();
    expect(await lookup).toBe('aborted');
    expect(await kindOf(r.resolveTxt('both.example.test', { signal: AbortSignal.abort() }))).toBe('aborted');
  });
});

describe('createDnsResolver: CAA records and per-zone servers (split horizon)', () => {
  let outside: FakeDnsServer;
  let corp: FakeDnsServer;
  let lab: FakeDnsServer;

  beforeAll(async () => {
    outside = await startFakeDns(
      new Map<string, Zone>([
        ['www.example.test', { A: ['192.0.2.1'] }],
        ['app.corp.internal', { A: ['192.0.2.66'] }], // what the outside world would say: never asked
        ['caa.example.test', { CAA: [{ tag: 'issue', value: 'ca.example.net; accounturi=https://acme.test/acct/1' }, { flags: 128, tag: 'tbs', value: 'x' }, { tag: 'iodef', value: 'mailto:pki@example.test' }] }],
        ['nocaa.example.test', { A: ['192.0.2.2'] }],
        ['caa-servfail.example.test', { rcode: 2 }],
      ]),
    );
    corp = await startFakeDns(
      new Map<string, Zone>([
        ['app.corp.internal', { A: ['10.1.2.3'], CAA: [{ tag: 'issue', value: 'pki.corp.internal' }] }],
        ['_acme-challenge.app.corp.internal', { TXT: [['corp-digest']] }],
      ]),
    );
    lab = await startFakeDns(new Map<string, Zone>([['box.lab.corp.internal', { A: ['10.9.9.9'] }]]));
  });
  afterAll(async () => {
    await Promise.all([outside.close(), corp.close(), lab.close()]);
  });

  it('reads CAA records with their flags, tags and values; no CAA is NODATA; SERVFAIL is typed', async () => {
    const r = createDnsResolver({ servers: [outside.server] });
    expect(await r.resolveCaa('caa.example.test')).toEqual([
      { flags: 0, tag: 'issue', value: 'ca.example.net; accounturi=https://acme.test/acct/1' },
      { flags: 128, tag: 'tbs', value: 'x' },
      { flags: 0, tag: 'iodef', value: 'mailto:pki@example.test' },
    ]);
    await expect(r.resolveCaa('nocaa.example.test')).rejects.toMatchObject({ kind: 'nodata', rrtype: 'CAA' });
    await expect(r.resolveCaa('missing.example.test')).rejects.toMatchObject({ kind: 'nxdomain', rrtype: 'CAA' });
    await expect(r.resolveCaa('caa-servfail.example.test')).rejects.toMatchObject({ kind: 'servfail', rrtype: 'CAA' });
  });

  it('asks a zone\'s own servers for every name in it (A, TXT, CAA), the longest zone winning, and the default servers for the rest', async () => {
    const r = createDnsResolver({
      servers: [outside.server],
      serversByZone: { 'Corp.Internal.': [corp.server], 'lab.corp.internal': [lab.server] },
    });
    expect(await r.resolveAddresses('app.corp.internal')).toEqual(['10.1.2.3']);
    expect(await r.resolveTxt('_acme-challenge.app.corp.internal')).toEqual(['corp-digest']);
    expect(await r.resolveCaa('APP.corp.internal.')).toEqual([{ flags: 0, tag: 'issue', value: 'pki.corp.internal' }]);
    expect(await r.resolveAddresses('box.lab.corp.internal')).toEqual(['10.9.9.9']);
    expect(await r.resolveAddresses('www.example.test')).toEqual(['192.0.2.1']);
    // A name that merely ends in the zone's text is not in the zone.
    await expect(r.resolveAddresses('notcorp.internal')).rejects.toMatchObject({ kind: 'nxdomain' });

    expect(outside.queries.filter((q) => /(^|\.)corp\.internal /.test(q))).toEqual([]);
    expect(outside.queries).toContain('notcorp.internal 1');
    expect(corp.queries.some((q) => q.startsWith('box.lab.'))).toBe(false);
    expect(lab.queries.every((q) => q.startsWith('box.lab.corp.internal '))).toBe(true);

    expect(r.servers).toEqual([outside.server]);
    expect(r.serversFor('app.corp.internal')).toEqual([corp.server]);
    expect(r.serversFor('corp.internal')).toEqual([corp.server]);
    expect(r.serversFor('x.lab.corp.internal')).toEqual([lab.server]);
    expect(r.serversFor('www.example.test')).toEqual([outside.server]);
  });

  it('refuses a zone with no servers or a bad server string at creation', () => {
    expect(() => createDnsResolver({ servers: [], serversByZone: { 'corp.internal': [] } })).toThrow(/corp\.internal/);
    expect(() => createDnsResolver({ servers: [], serversByZone: { 'corp.internal': ['not an address'] } })).toThrow();
  });
});
