// A small DER writer (X.690), the counterpart of acme/der.ts: enough to build a certificate's
// TBSCertificate from parts. Elements are Buffers; constructed ones concatenate their children.

function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: identifier octet, length, value. */
export function tlv(tag: number, ...value: Buffer[]): Buffer {
  const body = value.length === 1 ? value[0]! : Buffer.concat(value);
  return Buffer.concat([Buffer.from([tag]), lengthOctets(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
export const octets = (value: Buffer): Buffer => tlv(0x04, value);
export const bool = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0]));
/** A BIT STRING of whole bytes. */
export const bits = (value: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.from([unusedBits]), value);
/** [n] EXPLICIT (constructed context tag) around one element. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from its big-endian bytes (a leading zero added when the high bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (n: number) => {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, in seconds, Zulu. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'latin1')) : tlv(0x18, Buffer.from(`${digits}Z`, 'latin1'));
}

/** A directory string: PrintableString when its characters allow, else UTF8String (RFC 5280 §4.1.2.6). */
export function directoryString(text: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text) ? tlv(0x13, Buffer.from(text, 'latin1')) : tlv(0x0c, Buffer.from(text, 'utf8'));
}
