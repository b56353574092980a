import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsResolver, DnsError } from './dns.js';

// A tiny authoritative UDP DNS server on 127.0.0.1 (RFC 1035 §4) whose answers the tests choose,
// including the failures a real resolver can hand back: NXDOMAIN, SERVFAIL, REFUSED and silence.

interface Zone {
  rcode?: number;
  silent?: boolean;
  A?: string[];
  AAAA?: string[];
  TXT?: string[][];
}

const TYPE = { A: 1, TXT: 16, AAAA: 28 } as const;

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function answer(query: Buffer, zones: Map<string, Zone>): Buffer | undefined {
  let offset = 12;
  const labels: string[] = [];
  while (query[offset]! !== 0) {
    const len = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + len).toString('ascii'));
    offset += len + 1;
  }
  offset += 1;
  const qtype = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const zone = zones.get(labels.join('.').toLowerCase());
  if (zone?.silent) return undefined;
  const rcode = zone ? (zone.rcode ?? 0) : 3; // unknown names: NXDOMAIN
  const rdatas: Buffer[] = [];
  if (zone && rcode === 0) {
    if (qtype === TYPE.A) for (const a of zone.A ?? []) rdatas.push(Buffer.from(a.split('.').map(Number)));
    if (qtype === TYPE.AAAA) for (const a of zone.AAAA ?? []) rdatas.push(ipv6Bytes(a));
    if (qtype === TYPE.TXT) {
      for (const chunks of zone.TXT ?? []) rdatas.push(Buffer.concat(chunks.map((c) => Buffer.concat([Buffer.from([Buffer.byteLength(c)]), Buffer.from(c)]))));
    }
  }
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR, RD echoed, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdatas.length, 6);
  const records = rdatas.map((rdata) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, question, ...records]);
}

async function startFakeDns(zones: Map<string, Zone>): Promise<{ port: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = answer(msg, zones);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

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
  let server: Awaited<ReturnType<typeof startFakeDns>>;
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

  it('times out within its limit when the server never answers', async () => {
    const r = createDnsResolver({ servers, timeoutMs: 300 });
    const started = Date.now();
    const err = await r.resolveTxt('silent.example.test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).kind).toBe('timeout');
    expect((err as DnsError).message).toContain('silent.example.test');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops when the caller aborts', async () => {
    const r = createDnsResolver({ servers, timeoutMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    expect(await kindOf(r.resolveAddresses('silent.example.test', { signal: controller.signal }))).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await kindOf(r.resolveTxt('both.example.test', { signal: AbortSignal.abort() }))).toBe('aborted');
  });
});
