import { randomBytes } from 'node:crypto';

// A minimal DER writer (X.690), enough for a PKCS#10 request carrying any RSA modulus with a junk
// signature: the size rules read the key before the signature, so no 16384-bit key is generated.

const len = (n: number) => (n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const int = (b: Buffer) => tlv(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const bits = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
const RSA_OID = Buffer.from('06092a864886f70d010101', 'hex');
const SHA256_RSA_OID = Buffer.from('06092a864886f70d01010b', 'hex');
const NULL = Buffer.from('0500', 'hex');

/** A CSR with an RSA key of `modulusBits` (a multiple of 8), CN `name`, and a junk signature; base64url DER. */
export function rsaCsrWithJunkSignature(modulusBits: number, name: string): string {
  const n = randomBytes(modulusBits / 8);
  n[0]! |= 0x80;
  const spki = seq(seq(RSA_OID, NULL), bits(seq(int(n), int(Buffer.from([1, 0, 1])))));
  const subject = seq(tlv(0x31, seq(Buffer.from('0603550403', 'hex'), tlv(0x0c, Buffer.from(name)))));
  const info = seq(int(Buffer.from([0])), subject, spki, Buffer.from([0xa0, 0x00]));
  return seq(info, seq(SHA256_RSA_OID, NULL), bits(randomBytes(modulusBits / 8))).toString('base64url');
}
