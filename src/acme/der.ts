// A small DER reader (X.690): enough of ASN.1 to take a PKCS#10 request or a certificate apart
// without building an object tree for it. @peculiar/x509 (asn1js + a schema per type) spent about a
// millisecond on a CSR, three times per order (issue 11); reading the few fields the gateway needs
// by offset is a few microseconds. Every error is a DerError, so a caller turns damaged input into
// its own problem (badCSR) and never into an internal error.

export class DerError extends Error {}

/** One tag-length-value: `tag` is the identifier octet, the value is bytes [start, end) of the buffer. */
export interface Tlv {
  tag: number;
  /** Where the identifier octet is. */
  offset: number;
  /** Where the value starts. */
  start: number;
  /** Where the value ends (exclusive); also where the next element starts. */
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The element at `pos`, which must end by `limit`. Definite lengths only (DER), single-octet tags only. */
export function readTlv(buf: Uint8Array, pos: number, limit: number = buf.length): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated element');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-octet tags are not used here');
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('length too large');
    if (start + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    if (len < 0x80 || (n > 1 && buf[start] === 0)) throw new DerError('length not in its shortest form');
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError('element runs past its container');
  return { tag, offset: pos, start, end };
}

/** The element at `pos` with the given tag. */
export function expectTlv(buf: Uint8Array, pos: number, tag: number, limit: number = buf.length): Tlv {
  const t = readTlv(buf, pos, limit);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

/** The elements inside a constructed one, in order; they must fill it exactly. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError('not a constructed element');
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** The whole encoding of an element (identifier, length and value), as a view of the buffer. */
export const encodingOf = (buf: Uint8Array, t: Tlv): Buffer => Buffer.from(buf.buffer, buf.byteOffset + t.offset, t.end - t.offset);

/** The value of an element, as a view of the buffer. */
export const valueOf = (buf: Uint8Array, t: Tlv): Buffer => Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);

/** An OBJECT IDENTIFIER's dotted form. */
export function oidOf(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID) throw new DerError('expected an OBJECT IDENTIFIER');
  if (t.end === t.start) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i]!;
    if (value === 0 && b === 0x80) throw new DerError('OBJECT IDENTIFIER arc not in its shortest form');
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 256) throw new DerError('OBJECT IDENTIFIER arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === t.end - 1) {
      throw new DerError('truncated OBJECT IDENTIFIER');
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** The bytes of a BIT STRING with no unused bits (signatures, keys). */
export function bitStringBytes(buf: Uint8Array, t: Tlv): Buffer {
  if (t.tag !== TAG.BIT_STRING) throw new DerError('expected a BIT STRING');
  if (t.end === t.start || buf[t.start] !== 0) throw new DerError('BIT STRING with unused bits');
  return Buffer.from(buf.buffer, buf.byteOffset + t.start + 1, t.end - t.start - 1);
}

/** A directory string (X.520) or IA5String as text. */
export function stringOf(buf: Uint8Array, t: Tlv): string {
  const v = valueOf(buf, t);
  switch (t.tag) {
    case TAG.UTF8_STRING: {
      const s = v.toString('utf8');
      if (!Buffer.from(s, 'utf8').equals(v)) throw new DerError('UTF8String is not UTF-8');
      return s;
    }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.VISIBLE_STRING:
    case TAG.T61_STRING:
      return v.toString('latin1');
    case TAG.BMP_STRING: {
      if (v.length % 2) throw new DerError('BMPString of odd length');
      let s = '';
      for (let i = 0; i < v.length; i += 2) s += String.fromCharCode(v.readUInt16BE(i));
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      if (v.length % 4) throw new DerError('UniversalString length not a multiple of 4');
      let s = '';
      for (let i = 0; i < v.length; i += 4) {
        const cp = v.readUInt32BE(i);
        if (cp > 0x10ffff) throw new DerError('UniversalString code point out of range');
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      throw new DerError(`tag 0x${t.tag.toString(16)} is not a string`);
  }
}
