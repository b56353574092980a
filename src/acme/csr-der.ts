import { constants as cryptoConstants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { canonicalIp } from './identifiers.js';
import { bitStringBytes, children, DerError, encodingOf, expectTlv, oidOf, readTlv, stringOf, TAG, valueOf, type Tlv } from './der.js';

// A PKCS#10 certification request (RFC 2986) read by offset with the DER reader (acme/der.ts), its
// signature checked with node:crypto: what finalize (acme/csr.ts) and the PCA simulator need of a
// CSR, at a few microseconds plus one signature check, instead of @peculiar/x509's object tree and
// WebCrypto key import (about 2 ms a CSR, issue 11). Errors are DerError; the callers word them.
//
//   CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
//   CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject Name,
//       subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute }

export { DerError } from './der.js';

export interface CsrDer {
  der: Buffer;
  /** The signed bytes: the whole CertificationRequestInfo. */
  info: Buffer;
  /** SubjectPublicKeyInfo, DER. */
  spki: Buffer;
  subject: Tlv;
  attributes: Tlv | null;
  signatureAlgorithm: string;
  /** The AlgorithmIdentifier's parameters element, when there is one (RSASSA-PSS). */
  signatureParams: Tlv | null;
  signature: Buffer;
}

const OID_CN = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SAN = '2.5.29.17';

/** The structure of a CSR (the subject and the extensions are read on demand: csrCommonNames, csrSubjectAltNames). */
export function readCsrDer(input: Uint8Array): CsrDer {
  const der = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const outer = expectTlv(der, 0, TAG.SEQUENCE);
  if (outer.end !== der.length) throw new DerError('bytes after the request');
  const [infoTlv, algTlv, sigTlv, ...rest] = children(der, outer);
  if (!infoTlv || !algTlv || !sigTlv || rest.length) throw new DerError('a request has three parts');
  if (infoTlv.tag !== TAG.SEQUENCE || algTlv.tag !== TAG.SEQUENCE) throw new DerError('malformed request');
  const info = children(der, infoTlv);
  const [version, subject, spki, attributes, ...more] = info;
  if (!version || !subject || !spki || more.length) throw new DerError('malformed request info');
  // RFC 2986 §4.1 defines only version 0, but ruby acme-client 2.0.9 (Debian's) writes 2, as X.509
  // numbers certificate v3; @peculiar/x509, openssl and Go read such a request, so it is read here
  // too. Anything but a one-byte 0-2 is refused.
  if (version.tag !== TAG.INTEGER || version.end - version.start !== 1 || der[version.start]! > 2) throw new DerError('unknown request version');
  if (subject.tag !== TAG.SEQUENCE || spki.tag !== TAG.SEQUENCE) throw new DerError('malformed request info');
  if (attributes && attributes.tag !== 0xa0) throw new DerError('malformed request attributes');
  const [algOid, params, ...extra] = children(der, algTlv);
  if (!algOid || extra.length) throw new DerError('malformed signature algorithm');
  return {
    der,
    info: encodingOf(der, infoTlv),
    spki: encodingOf(der, spki),
    subject,
    attributes: attributes ?? null,
    signatureAlgorithm: oidOf(der, algOid),
    signatureParams: params && params.tag !== TAG.NULL ? params : null,
    signature: bitStringBytes(der, sigTlv),
  };
}

/** Every commonName value of the subject, in order. */
export function csrCommonNames(csr: CsrDer): string[] {
  const { der } = csr;
  const names: string[] = [];
  for (const rdn of children(der, csr.subject)) {
    if (rdn.tag !== TAG.SET) throw new DerError('malformed subject');
    for (const atv of children(der, rdn)) {
      if (atv.tag !== TAG.SEQUENCE) throw new DerError('malformed subject');
      const [type, value, ...rest] = children(der, atv);
      if (!type || !value || rest.length) throw new DerError('malformed subject');
      if (oidOf(der, type) === OID_CN) names.push(stringOf(der, value));
    }
  }
  return names;
}

export type CsrGeneralName = { type: 'dns'; value: string } | { type: 'ip'; value: string } | { type: 'other'; kind: string };

const GENERAL_NAME_KINDS: Record<number, string> = { 0xa0: 'other', 0x81: 'email', 0xa3: 'x400', 0xa4: 'dn', 0xa5: 'edi', 0x86: 'url', 0x88: 'id' };

/** The subjectAltName names of the CSR's extensionRequest, or null when it asks for none. */
export function csrSubjectAltNames(csr: CsrDer): CsrGeneralName[] | null {
  const san = requestedExtension(csr, OID_SAN);
  return san ? generalNamesOf(san) : null;
}

/** A GeneralNames value (RFC 5280 §4.2.1.6: a subjectAltName extension's content), in order. */
export function generalNamesOf(san: Buffer): CsrGeneralName[] {
  const seq = expectTlv(san, 0, TAG.SEQUENCE);
  if (seq.end !== san.length) throw new DerError('bytes after the subjectAltName');
  return children(san, seq).map((gn): CsrGeneralName => {
    if (gn.tag === 0x82) return { type: 'dns', value: valueOf(san, gn).toString('latin1') };
    if (gn.tag === 0x87) return { type: 'ip', value: ipText(valueOf(san, gn)) };
    const kind = GENERAL_NAME_KINDS[gn.tag];
    if (!kind) throw new DerError('unknown GeneralName');
    return { type: 'other', kind };
  });
}

/** The value (the OCTET STRING's content) of the first extension with this id in the extensionRequest. */
function requestedExtension(csr: CsrDer, oid: string): Buffer | null {
  if (!csr.attributes) return null;
  const { der } = csr;
  for (const attr of children(der, csr.attributes)) {
    if (attr.tag !== TAG.SEQUENCE) throw new DerError('malformed attribute');
    const [type, values, ...rest] = children(der, attr);
    if (!type || !values || values.tag !== TAG.SET || rest.length) throw new DerError('malformed attribute');
    if (oidOf(der, type) !== OID_EXTENSION_REQUEST) continue;
    for (const extensions of children(der, values)) {
      if (extensions.tag !== TAG.SEQUENCE) throw new DerError('malformed extensions');
      for (const ext of children(der, extensions)) {
        if (ext.tag !== TAG.SEQUENCE) throw new DerError('malformed extension');
        const parts = children(der, ext);
        const id = parts[0];
        const value = parts[parts.length - 1];
        if (!id || !value || parts.length > 3 || value.tag !== TAG.OCTET_STRING) throw new DerError('malformed extension');
        if (parts.length === 3 && parts[1]!.tag !== TAG.BOOLEAN) throw new DerError('malformed extension');
        if (oidOf(der, id) === oid) return valueOf(der, value);
      }
    }
  }
  return null;
}

/** An iPAddress name as text: dotted IPv4, RFC 5952 IPv6; anything else (a CIDR form) as hex, which matches no identifier. */
function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    return canonicalIp(groups.join(':'));
  }
  return `#${bytes.toString('hex')}`;
}

/** How each CSR signature algorithm maps onto node:crypto (RFC 5758, RFC 4055, RFC 8017). */
const SIGNATURE_ALGORITHMS: Record<string, { hash: string; keyType: 'ec' | 'rsa' }> = {
  '1.2.840.10045.4.1': { hash: 'sha1', keyType: 'ec' },
  '1.2.840.10045.4.3.1': { hash: 'sha224', keyType: 'ec' },
  '1.2.840.10045.4.3.2': { hash: 'sha256', keyType: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', keyType: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', keyType: 'ec' },
  '1.2.840.113549.1.1.5': { hash: 'sha1', keyType: 'rsa' },
  '1.2.840.113549.1.1.14': { hash: 'sha224', keyType: 'rsa' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', keyType: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', keyType: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', keyType: 'rsa' },
};
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const HASH_OIDS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/**
 * A signature under one of the plain (non-PSS) algorithms above: true or false, or null when the
 * algorithm is not one of them (the caller takes another path). Never throws.
 */
export function verifyPlainSignature(algorithm: string, signed: Buffer, signature: Buffer, key: KeyObject): boolean | null {
  const alg = SIGNATURE_ALGORITHMS[algorithm];
  if (!alg) return null;
  if (key.asymmetricKeyType !== alg.keyType) return false;
  try {
    return cryptoVerify(alg.hash, signed, alg.keyType === 'rsa' ? { key, padding: cryptoConstants.RSA_PKCS1_PADDING } : key, signature);
  } catch {
    return false;
  }
}

/** true when the CSR's self-signature verifies with `key` (its own subjectPublicKeyInfo). Never throws. */
export function verifyCsrSignature(csr: CsrDer, key: KeyObject): boolean {
  try {
    if (csr.signatureAlgorithm === OID_RSASSA_PSS) {
      if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return false;
      const pss = pssParams(csr);
      return cryptoVerify(pss.hash, csr.info, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, csr.signature);
    }
    const alg = SIGNATURE_ALGORITHMS[csr.signatureAlgorithm];
    if (!alg || key.asymmetricKeyType !== alg.keyType) return false;
    return cryptoVerify(alg.hash, csr.info, alg.keyType === 'rsa' ? { key, padding: cryptoConstants.RSA_PKCS1_PADDING } : key, csr.signature);
  } catch {
    return false;
  }
}

/** RSASSA-PSS-params (RFC 4055 §3.1): the hash, MGF1 over the same hash, the salt length; defaults SHA-1 and 20. */
function pssParams(csr: CsrDer): { hash: string; saltLength: number } {
  const { der } = csr;
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  if (csr.signatureParams) {
    if (csr.signatureParams.tag !== TAG.SEQUENCE) throw new DerError('malformed RSASSA-PSS parameters');
    for (const field of children(der, csr.signatureParams)) {
      const inner = readTlv(der, field.start, field.end);
      if (field.tag === 0xa0) hash = hashOf(der, inner);
      else if (field.tag === 0xa1) {
        const [mgf, mgfAlg] = children(der, inner);
        if (!mgf || !mgfAlg || oidOf(der, mgf) !== OID_MGF1) throw new DerError('unsupported mask generation function');
        mgfHash = hashOf(der, mgfAlg);
      } else if (field.tag === 0xa2) {
        if (inner.tag !== TAG.INTEGER || inner.end - inner.start > 2) throw new DerError('malformed salt length');
        saltLength = valueOf(der, inner).readUIntBE(0, inner.end - inner.start);
      } else if (field.tag !== 0xa3) throw new DerError('malformed RSASSA-PSS parameters');
    }
  }
  // node:crypto uses the signature's hash for MGF1 too.
  if (mgfHash !== hash) throw new DerError('MGF1 hash differs from the signature hash');
  return { hash, saltLength };
}

function hashOf(der: Buffer, algorithmIdentifier: Tlv): string {
  if (algorithmIdentifier.tag !== TAG.SEQUENCE) throw new DerError('malformed hash algorithm');
  const [oid] = children(der, algorithmIdentifier);
  const hash = oid ? HASH_OIDS[oidOf(der, oid)] : undefined;
  if (!hash) throw new DerError('unsupported hash algorithm');
  return hash;
}
