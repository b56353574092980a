import { KeyObject, webcrypto } from 'node:crypto';
import { keyShapeOf, type KeyShape } from '../key-shape.js';
import { issueLeafDer, type LeafDer } from './leaf-der.js';
import { x509 } from '../x509-setup.js';
import { parsePemBlocks } from '../../acme/pem.js';
import { spkiSha256Hex } from '../../acme/csr.js';
import { publicKeyOfSpki } from '../../acme/spki.js';
import { csrCommonNames, csrSubjectAltNames, readCsrDer, verifyCsrSignature, type CsrDer } from '../../acme/csr-der.js';
import type { CaCert } from './ca.js';
import { PcaApiError } from './api-error.js';

export type LeafKeyKind = KeyShape['kind'];
export type { KeyShape };

export interface ParsedCsr {
  /** SubjectPublicKeyInfo, DER. */
  spki: Buffer;
  keyKind: LeafKeyKind;
  keyShape: KeyShape;
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/** X.520 ub-common-name (RFC 5280 appendix A). */
const MAX_CN = 64;

/**
 * Parses and checks a CSR the way the PCA's sign endpoint would (ncp-pca-api §3.1): it must parse,
 * its self-signature must verify, and its key must be RSA 2048-8192 or EC P-256/P-384/P-521 (which
 * of them the CA takes is the API's key rule, api.ts).
 */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  const der = parsePemBlocks(csrPem).find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST')?.der;
  if (!der) throw new PcaApiError(400, 'INVALID_INPUT', 'csr is not a PEM certificate request.');
  // Read by offset and verified with node:crypto (acme/csr-der.ts, issue 11), as finalize does.
  let csr: CsrDer;
  let commonName: string | undefined;
  try {
    csr = readCsrDer(der);
    commonName = csrCommonNames(csr)[0];
  } catch {
    throw new PcaApiError(400, 'INVALID_INPUT', 'csr could not be parsed.');
  }

  const { shape: keyShape, key } = checkKeyType(csr.spki);
  if (!verifyCsrSignature(csr, key)) throw new PcaApiError(400, 'INVALID_INPUT', 'csr signature is invalid.');

  if (commonName !== undefined && commonName.length > MAX_CN) throw new PcaApiError(400, 'EXCEED_COMMON_NAME', 'common name is too long.');
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  let san;
  try {
    san = csrSubjectAltNames(csr);
  } catch {
    throw new PcaApiError(400, 'INVALID_INPUT', 'csr subjectAltName could not be parsed.');
  }
  for (const n of san ?? []) {
    if (n.type === 'dns') dnsNames.push(n.value);
    else if (n.type === 'ip') ipAddresses.push(n.value);
  }
  if (!commonName && dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new PcaApiError(400, 'INVALID_INPUT', 'csr names no subject.');
  }
  const parsed: ParsedCsr = { spki: csr.spki, keyKind: keyShape.kind, keyShape, dnsNames, ipAddresses };
  if (commonName) parsed.commonName = commonName;
  return parsed;
}

function checkKeyType(spkiDer: Buffer): { shape: KeyShape; key: KeyObject } {
  let key;
  try {
    key = publicKeyOfSpki(spkiDer);
  } catch {
    throw new PcaApiError(400, 'INVALID_X509_KEY_TYPE', 'unsupported key type.');
  }
  const shape = keyShapeOf(key);
  if (shape?.kind === 'RSA' && shape.bits >= 2048 && shape.bits <= 8192) return { shape, key };
  if (shape?.kind === 'EC') return { shape, key };
  throw new PcaApiError(400, 'INVALID_X509_KEY_TYPE', 'unsupported key type; use RSA 2048+ or EC P-256/P-384/P-521.');
}


export interface LeafParams {
  csr: ParsedCsr;
  issuer: CaCert;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  crlUrl?: string;
  /** Fault injection (wrongKeyRate): certify this key instead of the CSR's. */
  substituteKey?: webcrypto.CryptoKey;
}

/**
 * Issues the end-entity certificate for a checked CSR (profile: ARCHITECTURE "pca/", RFC 5280 §4.2),
 * written as DER and signed with node:crypto (leaf-der.ts).
 */
export async function issueLeaf(p: LeafParams): Promise<LeafDer> {
  const spki = p.substituteKey ? KeyObject.from(p.substituteKey).export({ type: 'spki', format: 'der' }) : p.csr.spki;
  return issueLeafDer({
    spki,
    ...(p.csr.commonName ? { commonName: p.csr.commonName } : {}),
    dnsNames: p.csr.dnsNames,
    ipAddresses: p.csr.ipAddresses,
    keyEncipherment: p.csr.keyKind === 'RSA' && !p.substituteKey,
    issuer: p.issuer,
    serialHex: p.serialHex,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    ...(p.crlUrl ? { crlUrl: p.crlUrl } : {}),
  });
}

/** A throwaway P-256 public key for the wrongKey fault. */
export async function freshPublicKey(): Promise<webcrypto.CryptoKey> {
  const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return pair.publicKey;
}

/** Hex SHA-256 over the certificate's SubjectPublicKeyInfo DER: how tests match a cert to a CSR key. */
export function spkiSha256(cert: x509.X509Certificate): string {
  return spkiSha256Hex(new Uint8Array(cert.publicKey.rawData));
}
