import type { KeyObject, X509Certificate } from 'node:crypto';
import { bitStringBytes, children, DerError, encodingOf, expectTlv, oidOf, TAG, valueOf, type Tlv } from './der.js';
import { generalNamesOf, verifyPlainSignature } from './csr-der.js';

// An X.509 certificate (RFC 5280 §4.1) read by offset with the DER reader (acme/der.ts): what the
// "never serve a wrong certificate" check and the chain builder need of the leaf the PCA just
// signed — serial, validity, names, key, AKI, issuer name and the signed bytes — without
// `new X509Certificate` (~0.1 ms in Node 20's OpenSSL 3, once per order: issue 11). The CA
// certificates stay node X509Certificate objects, parsed once and cached (acme/x509-cache.ts).
// Errors are DerError; a caller that cannot read a certificate here goes the X509Certificate way.
//
//   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
//   TBSCertificate ::= SEQUENCE { [0] version DEFAULT v1, serialNumber, signature, issuer, validity,
//       subject, subjectPublicKeyInfo, [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions }

export interface CertDer {
  der: Buffer;
  /** The signed bytes: the whole TBSCertificate. */
  tbs: Buffer;
  /** The serial number's content octets, as lower-case hex (leading zero octets kept). */
  serialHex: string;
  /** The issuer and subject Names, DER. */
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER. */
  spki: Buffer;
  /** Extensions by OID: criticality and the extnValue's content. */
  extensions: Map<string, { critical: boolean; value: Buffer }>;
  signatureAlgorithm: string;
  /** Whether the AlgorithmIdentifier carries parameters other than NULL (RSASSA-PSS). */
  signatureHasParams: boolean;
  signature: Buffer;
}

const OID_SAN = '2.5.29.17';
const OID_SKI = '2.5.29.14';
const OID_AKI = '2.5.29.35';
const OID_KEY_USAGE = '2.5.29.15';

export function readCertDer(input: Uint8Array): CertDer {
  const der = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const outer = expectTlv(der, 0, TAG.SEQUENCE);
  if (outer.end !== der.length) throw new DerError('bytes after the certificate');
  const [tbsTlv, algTlv, sigTlv, ...rest] = children(der, outer);
  if (!tbsTlv || !algTlv || !sigTlv || rest.length || tbsTlv.tag !== TAG.SEQUENCE || algTlv.tag !== TAG.SEQUENCE) throw new DerError('malformed certificate');
  const fields = children(der, tbsTlv);
  let i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, innerAlg, issuer, validity, subject, spki] = fields.slice(i, i + 6);
  if (!serial || !innerAlg || !issuer || !validity || !subject || !spki) throw new DerError('malformed tbsCertificate');
  if (serial.tag !== TAG.INTEGER || issuer.tag !== TAG.SEQUENCE || validity.tag !== TAG.SEQUENCE || subject.tag !== TAG.SEQUENCE || spki.tag !== TAG.SEQUENCE) {
    throw new DerError('malformed tbsCertificate');
  }
  // RFC 5280 §4.1.1.2: the outer signatureAlgorithm MUST equal the one inside the signed part.
  if (!encodingOf(der, innerAlg).equals(encodingOf(der, algTlv))) throw new DerError('signature algorithms differ');
  const [notBefore, notAfter, ...moreTimes] = children(der, validity);
  if (!notBefore || !notAfter || moreTimes.length) throw new DerError('malformed validity');
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  for (i += 6; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.tag === 0xa3) readExtensions(der, f, extensions);
    else if (f.tag !== 0x81 && f.tag !== 0x82 && f.tag !== 0xa1 && f.tag !== 0xa2) throw new DerError('malformed tbsCertificate');
  }
  const [algOid, params, ...extra] = children(der, algTlv);
  if (!algOid || extra.length) throw new DerError('malformed signature algorithm');
  return {
    der,
    tbs: encodingOf(der, tbsTlv),
    serialHex: valueOf(der, serial).toString('hex'),
    issuer: encodingOf(der, issuer),
    subject: encodingOf(der, subject),
    notBefore: timeOf(der, notBefore),
    notAfter: timeOf(der, notAfter),
    spki: encodingOf(der, spki),
    extensions,
    signatureAlgorithm: oidOf(der, algOid),
    signatureHasParams: !!params && params.tag !== TAG.NULL,
    signature: bitStringBytes(der, sigTlv),
  };
}

function readExtensions(der: Buffer, wrapper: Tlv, into: Map<string, { critical: boolean; value: Buffer }>): void {
  const seq = expectTlv(der, wrapper.start, TAG.SEQUENCE, wrapper.end);
  if (seq.end !== wrapper.end) throw new DerError('malformed extensions');
  for (const ext of children(der, seq)) {
    if (ext.tag !== TAG.SEQUENCE) throw new DerError('malformed extension');
    const parts = children(der, ext);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (!id || !value || parts.length > 3 || value.tag !== TAG.OCTET_STRING) throw new DerError('malformed extension');
    const critical = parts.length === 3 ? parts[1]!.tag === TAG.BOOLEAN && der[parts[1]!.start] !== 0 : false;
    if (parts.length === 3 && parts[1]!.tag !== TAG.BOOLEAN) throw new DerError('malformed extension');
    const oid = oidOf(der, id);
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (into.has(oid)) throw new DerError(`extension ${oid} twice`);
    into.set(oid, { critical, value: valueOf(der, value) });
  }
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 §4.1.2.5 has them. */
function timeOf(der: Buffer, t: Tlv): Date {
  const s = valueOf(der, t).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
  } else {
    throw new DerError('malformed time');
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) throw new DerError('malformed time');
  return back;
}

/** The dNSName and iPAddress names of the subjectAltName extension; other kinds are left out, as certificateNameKeys leaves them out of node's reading. */
export function certNames(cert: CertDer): Array<{ type: 'dns' | 'ip'; value: string }> {
  const san = cert.extensions.get(OID_SAN);
  if (!san) return [];
  const names: Array<{ type: 'dns' | 'ip'; value: string }> = [];
  for (const n of generalNamesOf(san.value)) if (n.type !== 'other') names.push(n);
  return names;
}

/** base64url of the AKI keyIdentifier (RFC 5280 §4.2.1.1), or null without one. */
export function certAuthorityKeyIdB64(cert: CertDer): string | null {
  const id = authorityKeyId(cert);
  return id ? id.toString('base64url') : null;
}

function authorityKeyId(cert: CertDer): Buffer | null {
  const aki = cert.extensions.get(OID_AKI);
  if (!aki) return null;
  const seq = expectTlv(aki.value, 0, TAG.SEQUENCE);
  const first = children(aki.value, seq)[0];
  return first && first.tag === 0x80 ? valueOf(aki.value, first) : null;
}

/** Whether the AKI holds anything besides a keyIdentifier (authorityCertIssuer, serial): OpenSSL checks those too. */
function akiHasMore(cert: CertDer): boolean {
  const aki = cert.extensions.get(OID_AKI);
  if (!aki) return false;
  return children(aki.value, expectTlv(aki.value, 0, TAG.SEQUENCE)).some((t) => t.tag !== 0x80);
}

function subjectKeyId(cert: CertDer): Buffer | null {
  const ski = cert.extensions.get(OID_SKI);
  if (!ski) return null;
  return valueOf(ski.value, expectTlv(ski.value, 0, TAG.OCTET_STRING));
}

/** Whether a keyUsage extension, when there is one, allows keyCertSign (RFC 5280 §4.2.1.3, bit 5). */
function mayCertSign(cert: CertDer): boolean {
  const ku = cert.extensions.get(OID_KEY_USAGE);
  if (!ku) return true;
  const t = expectTlv(ku.value, 0, TAG.BIT_STRING);
  const bytes = valueOf(ku.value, t); // [unused bits, ...bits]
  return bytes.length >= 2 && (bytes[1]! & 0x04) !== 0;
}

/** The CA side of a link, read once per CA certificate object (they are cached: acme/x509-cache.ts). */
const issuers = new WeakMap<X509Certificate, { cert: CertDer; key: KeyObject } | null>();

function issuerView(parent: X509Certificate): { cert: CertDer; key: KeyObject } | null {
  let view = issuers.get(parent);
  if (view === undefined) {
    try {
      view = { cert: readCertDer(parent.raw), key: parent.publicKey };
    } catch {
      view = null;
    }
    issuers.set(parent, view);
  }
  return view;
}

/**
 * Whether `parent` issued `child`, decided by DER when it can be: the issuer name is the parent's
 * subject byte for byte, the AKI (when both have one) names the parent's SKI, the parent's key
 * usage allows certificate signing, and the signature (a plain ECDSA or RSA PKCS#1 one) verifies with
 * the parent's key. 'unknown' when any of it is outside what is read here (a name spelled another way,
 * RSASSA-PSS, an unreadable CA certificate): the caller then asks OpenSSL (X509Certificate.checkIssued
 * and verify), so nothing OpenSSL accepts is refused here.
 */
export function issuedByDer(child: CertDer, parent: X509Certificate): boolean | 'unknown' {
  const view = issuerView(parent);
  if (!view || child.signatureHasParams) return 'unknown';
  if (!child.issuer.equals(view.cert.subject)) return 'unknown';
  let aki: Buffer | null;
  let ski: Buffer | null;
  try {
    if (akiHasMore(child)) return 'unknown';
    aki = authorityKeyId(child);
    ski = subjectKeyId(view.cert);
    if (!mayCertSign(view.cert)) return false;
  } catch {
    return 'unknown';
  }
  if (aki && ski && !aki.equals(ski)) return false;
  // The chain builder and the issued check ask about the same link in turn: a verified signature
  // stays verified, so the second answer comes from here (only successes are kept).
  const id = child.signature.toString('base64');
  if (verifiedBy.get(id)?.has(parent)) return true;
  const ok = verifyPlainSignature(child.signatureAlgorithm, child.tbs, child.signature, view.key);
  if (ok) {
    if (verifiedBy.size >= VERIFIED_CAPACITY) verifiedBy.delete(verifiedBy.keys().next().value!);
    verifiedBy.set(id, (verifiedBy.get(id) ?? new WeakSet()).add(parent));
  }
  return ok === null ? 'unknown' : ok;
}

/** Leaves whose signature a CA certificate verified, by signature value: the few being issued now. */
const VERIFIED_CAPACITY = 64;
const verifiedBy = new Map<string, WeakSet<X509Certificate>>();
