import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

// A deliberately tiny authoritative DNS responder for the benchmark (RFC 1035 §4.1): every A query
// gets one answer, 127.0.0.1, whatever the name, so each order can use a fresh name such as
// svc-17.bench.test and the validator's real lookup path is exercised. AAAA and every other type get
// NOERROR with no answer (NODATA), so IPv4 is always used. UDP only: answers are far below 512 bytes.

const TYPE_A = 1;
const CLASS_IN = 1;
const HEADER_BYTES = 12;

export interface DnsResponder {
  port: number;
  /** Queries answered so far (for the report). */
  readonly answered: number;
  close(): Promise<void>;
}

export async function startDnsResponder(opts: { host?: string; address?: [number, number, number, number] } = {}): Promise<DnsResponder> {
  const address = opts.address ?? [127, 0, 0, 1];
  const socket = dgram.createSocket('udp4');
  let answered = 0;

  socket.on('message', (query, peer) => {
    const reply = buildReply(query, address);
    if (!reply) return; // not a query we understand: stay silent, as a server may
    answered++;
    socket.send(reply, peer.port, peer.address);
  });
  socket.on('error', () => undefined); // a stray ICMP error must not kill the benchmark

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, opts.host ?? '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });

  return {
    port: (socket.address() as AddressInfo).port,
    get answered() {
      return answered;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The reply to one query message, or null when it is not a plain one-question query. */
export function buildReply(query: Buffer, address: readonly number[]): Buffer | null {
  if (query.length < HEADER_BYTES) return null;
  const flags = query.readUInt16BE(2);
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0x0f;
  const qdcount = query.readUInt16BE(4);
  if (isResponse || opcode !== 0 || qdcount !== 1) return null;

  // The question name: uncompressed labels ending in a zero byte (queries never use pointers).
  let offset = HEADER_BYTES;
  for (let guard = 0; guard < 128; guard++) {
    const len = query[offset];
    if (len === undefined || len > 63) return null;
    offset += 1 + len;
    if (len === 0) break;
  }
  if (offset + 4 > query.length) return null;
  const qtype = query.readUInt16BE(offset);
  const qclass = query.readUInt16BE(offset + 2);
  const questionEnd = offset + 4;
  const answerA = qtype === TYPE_A && qclass === CLASS_IN;

  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // same ID
  // QR=1, opcode 0, AA=1, RD copied from the query, RA=1, RCODE=0 (NOERROR).
  header.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | 0x0080, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(answerA ? 1 : 0, 6); // ANCOUNT
  // NSCOUNT and ARCOUNT stay 0: an EDNS OPT record in the query is simply not echoed (RFC 6891 §7).
  const question = query.subarray(HEADER_BYTES, questionEnd);
  if (!answerA) return Buffer.concat([header, question]);

  const answer = Buffer.alloc(16);
  answer.writeUInt16BE(0xc000 | HEADER_BYTES, 0); // name: pointer to the question name
  answer.writeUInt16BE(TYPE_A, 2);
  answer.writeUInt16BE(CLASS_IN, 4);
  answer.writeUInt32BE(60, 6); // TTL
  answer.writeUInt16BE(4, 10); // RDLENGTH
  for (let i = 0; i < 4; i++) answer[12 + i] = address[i] ?? 0;
  return Buffer.concat([header, question, answer]);
}
