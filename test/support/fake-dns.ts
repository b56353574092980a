import dgram from 'node:dgram';

// A tiny authoritative UDP DNS server on 127.0.0.1 (RFC 1035 §4) whose answers the tests choose,
// including the failures a real resolver can hand back: NXDOMAIN, SERVFAIL, REFUSED and silence.
// The resolver under test talks to it through c-ares exactly as it would to a real server, so the
// tests need no DNS of the machine they run on.

export interface Zone {
  rcode?: number;
  /** Never answer (a server that drops the query). */
  silent?: boolean;
  A?: string[];
  AAAA?: string[];
  TXT?: string[][];
  /** RFC 8659 §4.1 records; flags default 0 (128 = Issuer Critical). */
  CAA?: Array<{ flags?: number; tag: string; value: string }>;
}

export interface FakeDnsServer {
  port: number;
  /** "host:port" for createDnsResolver({ servers }). */
  server: string;
  /** Every query received, as `${name} ${type}` (lower-case name, numeric type). */
  readonly queries: string[];
  /** Resolves at the next query for `name` (any type). */
  nextQuery(name: string): Promise<void>;
  close(): Promise<void>;
}

export const QTYPE = { A: 1, TXT: 16, AAAA: 28, CAA: 257 } as const;

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function questionOf(query: Buffer): { name: string; qtype: number; end: number } {
  let offset = 12;
  const labels: string[] = [];
  while (query[offset]! !== 0) {
    const len = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + len).toString('ascii'));
    offset += len + 1;
  }
  offset += 1;
  return { name: labels.join('.').toLowerCase(), qtype: query.readUInt16BE(offset), end: offset + 4 };
}

function answer(query: Buffer, zones: ReadonlyMap<string, Zone>): Buffer | undefined {
  const { name, qtype, end } = questionOf(query);
  const question = query.subarray(12, end);
  const zone = zones.get(name);
  if (zone?.silent) return undefined;
  const rcode = zone ? (zone.rcode ?? 0) : 3; // unknown names: NXDOMAIN
  const rdatas: Buffer[] = [];
  if (zone && rcode === 0) {
    if (qtype === QTYPE.A) for (const a of zone.A ?? []) rdatas.push(Buffer.from(a.split('.').map(Number)));
    if (qtype === QTYPE.AAAA) for (const a of zone.AAAA ?? []) rdatas.push(ipv6Bytes(a));
    if (qtype === QTYPE.TXT) {
      for (const chunks of zone.TXT ?? []) rdatas.push(Buffer.concat(chunks.map((c) => Buffer.concat([Buffer.from([Buffer.byteLength(c)]), Buffer.from(c)]))));
    }
    if (qtype === QTYPE.CAA) {
      // flags, tag length, tag, value (the rest of the RDATA)
      for (const r of zone.CAA ?? []) rdatas.push(Buffer.concat([Buffer.from([r.flags ?? 0, Buffer.byteLength(r.tag)]), Buffer.from(r.tag), Buffer.from(r.value)]));
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

/** Serves `zones` (looked up at each query, so a test may change them between queries). */
export async function startFakeDns(zones: ReadonlyMap<string, Zone>): Promise<FakeDnsServer> {
  const socket = dgram.createSocket('udp4');
  const queries: string[] = [];
  const waiters: Array<{ name: string; resolve: () => void }> = [];
  socket.on('message', (msg, rinfo) => {
    const { name, qtype } = questionOf(msg);
    queries.push(`${name} ${qtype}`);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.name === name) waiters.splice(i, 1)[0]!.resolve();
    }
    const reply = answer(msg, zones);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  return {
    port,
    server: `127.0.0.1:${port}`,
    queries,
    nextQuery: (name) => new Promise<void>((resolve) => waiters.push({ name: name.toLowerCase(), resolve })),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
