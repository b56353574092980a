import { createHash, type JsonWebKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { csrCommonNames, csrSubjectAltNames, readCsrDer, verifyCsrSignature, type CsrDer } from './csr-der.js';
import { canonicalIp, identifierKey } from './identifiers.js';
import { toPem } from './pem.js';
import { publicKeyOfSpki, spkiOfJwk } from './spki.js';
import { AcmeProblem } from './problems.js';
import type { Identifier } from './types.js';

// CSR acceptance (RFC 8555 §7.4, interop item 35): the signature must verify, the key must be one the
// PCA signs, and CN ∪ SAN must be exactly the order's identifiers. Requested extensions are ignored:
// the leaf is built from policy, not from what the CSR asks for.

/** The key types the gateway takes (NCP documents RSA2048, RSA4096, EC256, EC521: what a CA signs is pca/ca-status.ts). */
export type KeyType = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521';
export const KEY_TYPES: readonly KeyType[] = ['rsa2048', 'rsa3072', 'rsa4096', 'ecdsa-p256', 'ecdsa-p384', 'ecdsa-p521'];

export interface CheckedCsr {
  der: Buffer;
  pem: string;
  keyType: KeyType;
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex. */
  spkiSha256: string;
  names: Identifier[];
}

const badCsr = (detail: string) => new AcmeProblem('badCSR', detail);

export const spkiSha256Hex = (spkiDer: Uint8Array): string => createHash('sha256').update(spkiDer).digest('hex');

/** SHA-256 of the SubjectPublicKeyInfo of a public JWK (an account key), hex. */
export const spkiSha256OfJwk = (jwk: object): string => spkiSha256Hex(spkiOfJwk(jwk as JsonWebKey));

function csrKey(spkiDer: Buffer): KeyObject {
  try {
    return publicKeyOfSpki(spkiDer);
  } catch {
    throw badCsr('the CSR public key cannot be read');
  }
}

function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) throw badCsr(`RSA keys must be at least 2048 bits (got ${bits})`);
    if (bits === 2048) return 'rsa2048';
    if (bits === 3072) return 'rsa3072';
    if (bits === 4096) return 'rsa4096';
    throw badCsr(`RSA key size ${bits} is not supported: use 2048, 3072 or 4096`);
  }
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details.namedCurve === 'secp384r1') return 'ecdsa-p384';
    if (details.namedCurve === 'secp521r1') return 'ecdsa-p521';
    throw badCsr(`EC curve ${details.namedCurve ?? 'unknown'} is not supported: use P-256, P-384 or P-521`);
  }
  throw badCsr(`key type ${key.asymmetricKeyType ?? 'unknown'} is not supported: use RSA (2048+) or ECDSA P-256/P-384/P-521`);
}

/**
 * Parses and checks a DER CSR against the order's identifiers. Throws badCSR problems. Read by
 * offset (acme/csr-der.ts) and verified with node:crypto: one parse, no object tree (issue 11).
 */
export async function checkCsr(der: Buffer, orderIdentifiers: Identifier[], allowedKeyTypes?: KeyType[]): Promise<CheckedCsr> {
  const csr = readCsr(() => readCsrDer(der), 'the CSR is not a valid PKCS#10 request');
  const spki = csr.spki;
  // The RSA size is refused from the key's details before any signature check (limits.test.ts: 16384 bits).
  const key = csrKey(spki);
  const keyType = keyTypeOf(key);
  if (allowedKeyTypes && !allowedKeyTypes.includes(keyType)) {
    throw badCsr(`key type ${keyType} is not allowed by this profile (allowed: ${allowedKeyTypes.join(', ')})`);
  }
  if (!verifyCsrSignature(csr, key)) throw badCsr('the CSR signature does not verify');

  const sanNames: Identifier[] = [];
  const san = readCsr(() => csrSubjectAltNames(csr), 'the CSR subjectAltName extension cannot be read');
  if (san) {
    for (const name of san) {
      if (name.type === 'dns') sanNames.push({ type: 'dns', value: name.value });
      else if (name.type === 'ip') sanNames.push({ type: 'ip', value: name.value });
      else throw badCsr(`the CSR asks for a ${name.kind} name; only DNS names and IP addresses are issued`);
    }
  }
  const cns = readCsr(() => commonNamesOf(csr), 'the CSR subject cannot be read');
  if (cns.length > 1) throw badCsr('the CSR has more than one common name');

  const wanted = new Map(orderIdentifiers.map((id) => [identifierKey(id), id]));
  const seen = new Set<string>();
  for (const name of sanNames) {
    const key = safeKey(name);
    if (!wanted.has(key)) throw badCsr(`the CSR names "${name.value}", which is not in the order`);
    seen.add(key);
  }
  for (const cn of cns) {
    // A CN may spell a dns name or an IP address; it must be one of the order's identifiers.
    const asDns = safeKey({ type: 'dns', value: cn });
    const asIp = /^[0-9a-fA-F:.]+$/.test(cn) ? safeKey({ type: 'ip', value: cn }) : '';
    const key = wanted.has(asDns) ? asDns : asIp && wanted.has(asIp) ? asIp : null;
    if (!key) throw badCsr(`the CSR common name "${cn}" is not one of the order's identifiers`);
    seen.add(key);
  }
  const missing = [...wanted.keys()].filter((k) => !seen.has(k));
  if (missing.length) {
    throw badCsr(`the CSR does not name every identifier of the order (missing: ${missing.map((k) => wanted.get(k)!.value).join(', ')})`);
  }
  return {
    der,
    pem: toPem('CERTIFICATE REQUEST', der),
    keyType,
    spkiSha256: spkiSha256Hex(spki),
    names: sanNames,
  };
}

function readCsr<T>(read: () => T, detail: string): T {
  try {
    return read();
  } catch {
    throw badCsr(detail);
  }
}

function safeKey(id: Identifier): string {
  try {
    return identifierKey(id.type === 'ip' ? { type: 'ip', value: canonicalIp(id.value) } : id);
  } catch {
    return `invalid:${id.value}`;
  }
}

/** dNSName and iPAddress names as identifier keys (an unreadable IP gives a key that matches nothing). */
export const nameKeysOf = (names: Array<{ type: 'dns' | 'ip'; value: string }>): string[] =>
  names.map((n) => (n.type === 'dns' ? identifierKey({ type: 'dns', value: n.value }) : safeKey({ type: 'ip', value: n.value })));

/** The names (SAN dNSName and iPAddress) of a certificate, as identifier keys. */
export function certificateNameKeys(cert: X509Certificate): string[] {
  const keys: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) keys.push(identifierKey({ type: 'dns', value: part.slice(4) }));
    else if (part.startsWith('IP Address:')) keys.push(safeKey({ type: 'ip', value: part.slice(11) }));
  }
  return keys;
}

/** SHA-256 of a CSR's SubjectPublicKeyInfo, hex (the CSR was checked at finalize). */
export function csrSpkiSha256(der: Buffer): string {
  return spkiSha256Hex(readCsrDer(der).spki);
}

const commonNamesOf = (csr: CsrDer): string[] => csrCommonNames(csr).filter((cn) => cn !== '');
