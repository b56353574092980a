import { createHash, KeyObject, sign as cryptoSign, type webcrypto } from 'node:crypto';
import { children, expectTlv, readTlv, TAG, encodingOf } from '../../acme/der.js';
import { bits, bool, directoryString, explicit, octets, oid, seq, set, time, tlv, unsignedInteger } from '../../acme/der-writer.js';
import type { CaCert } from './ca.js';

// The simulator's end-entity certificate written as DER and signed with node:crypto (issue 11):
// @peculiar/x509's X509CertificateGenerator built it through asn1js and WebCrypto in about 3 ms, the
// largest single cost of an order; this writes the same profile (leaf.ts issueLeaf: basicConstraints
// cA=false critical, keyUsage critical, EKU serverAuth+clientAuth, SKI of the key, AKI of the issuer,
// SAN — critical when the subject is empty —, CRL distribution point) in tens of microseconds plus
// one ECDSA signature.

export interface LeafDerParams {
  /** The certified key, SubjectPublicKeyInfo DER. */
  spki: Buffer;
  commonName?: string;
  dnsNames: string[];
  /** Textual IPv4 / IPv6 addresses. */
  ipAddresses: string[];
  /** Adds keyEncipherment to keyUsage (RSA keys). */
  keyEncipherment: boolean;
  issuer: CaCert;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  crlUrl?: string;
}

export interface LeafDer {
  der: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the certified SubjectPublicKeyInfo, hex. */
  spkiSha256: string;
}

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/** What signing needs of an issuing CA, worked out once per CA: its subject as DER and its key as a KeyObject. */
const issuers = new WeakMap<CaCert, { subject: Buffer; key: KeyObject }>();
export function issuerParts(ca: CaCert): { subject: Buffer; key: KeyObject } {
  let parts = issuers.get(ca);
  if (!parts) {
    const der = Buffer.from(ca.cert.rawData);
    const tbs = children(der, expectTlv(der, 0, TAG.SEQUENCE))[0]!;
    const fields = children(der, tbs);
    const offset = fields[0]!.tag === 0xa0 ? 1 : 0; // [0] version
    parts = { subject: encodingOf(der, fields[offset + 4]!), key: KeyObject.from(ca.key as webcrypto.CryptoKey) };
    issuers.set(ca, parts);
  }
  return parts;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function ipBytes(text: string): Buffer {
  if (text.includes(':')) {
    const [head, tail] = text.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  }
  return Buffer.from(text.split('.').map(Number));
}

export function issueLeafDer(p: LeafDerParams): LeafDer {
  const issuer = issuerParts(p.issuer);
  const spkiTlv = expectTlv(p.spki, 0, TAG.SEQUENCE);
  const subjectPublicKey = readTlv(p.spki, children(p.spki, spkiTlv)[1]!.offset);
  const keyBits = p.spki.subarray(subjectPublicKey.start + 1, subjectPublicKey.end);
  const subject = p.commonName ? seq(set(seq(oid('2.5.4.3'), directoryString(p.commonName)))) : seq();
  const names = [
    ...p.dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'latin1'))),
    ...p.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  // keyUsage bits: digitalSignature (0), keyEncipherment (2).
  const keyUsage = p.keyEncipherment ? bits(Buffer.from([0xa0]), 5) : bits(Buffer.from([0x80]), 7);
  const extensions = [
    extension('2.5.29.19', true, seq()),
    extension('2.5.29.15', true, keyUsage),
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    extension('2.5.29.14', false, octets(createHash('sha1').update(keyBits).digest())),
    extension('2.5.29.35', false, seq(tlv(0x80, Buffer.from(p.issuer.keyId, 'hex')))),
  ];
  if (names.length > 0) extensions.push(extension('2.5.29.17', !p.commonName, seq(...names)));
  if (p.crlUrl) extensions.push(extension('2.5.29.31', false, seq(seq(tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(p.crlUrl, 'latin1'))))))));
  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))),
    unsignedInteger(Buffer.from(p.serialHex.length % 2 ? `0${p.serialHex}` : p.serialHex, 'hex')),
    ECDSA_WITH_SHA256,
    issuer.subject,
    seq(time(p.notBefore), time(p.notAfter)),
    subject,
    p.spki,
    explicit(3, seq(...extensions)),
  );
  const signature = cryptoSign('sha256', tbs, issuer.key);
  // Certificates carry whole seconds; what is reported is what the certificate says.
  const second = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
  return {
    der: seq(tbs, ECDSA_WITH_SHA256, bits(signature)),
    notBefore: second(p.notBefore),
    notAfter: second(p.notAfter),
    spkiSha256: createHash('sha256').update(p.spki).digest('hex'),
  };
}
