import { createPublicKey, webcrypto } from 'node:crypto';
import { keyShapeOf, type KeyShape } from '../key-shape.js';
import { x509 } from '../x509-setup.js';
import { parsePemBlocks } from '../../acme/pem.js';
import { spkiSha256Hex } from '../../acme/csr.js';
import { CA_SIGN_ALG, type CaCert } from './ca.js';
import { PcaApiError } from './api-error.js';

export type LeafKeyKind = KeyShape['kind'];
export type { KeyShape };

export interface ParsedCsr {
  publicKey: x509.PublicKey;
  keyKind: LeafKeyKind;
  keyShape: KeyShape;
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
}

const OID_SAN = '2.5.29.17';
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
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch {
    throw new PcaApiError(400, 'INVALID_INPUT', 'csr could not be parsed.');
  }

  const keyShape = checkKeyType(Buffer.from(csr.publicKey.rawData));
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new PcaApiError(400, 'INVALID_INPUT', 'csr signature is invalid.');

  const commonName = csr.subjectName.getField('CN')[0];
  if (commonName !== undefined && commonName.length > MAX_CN) throw new PcaApiError(400, 'EXCEED_COMMON_NAME', 'common name is too long.');
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const sanExt = csr.getExtension(OID_SAN);
  if (sanExt) {
    let san: x509.SubjectAlternativeNameExtension;
    try {
      san = new x509.SubjectAlternativeNameExtension(sanExt.rawData);
    } catch {
      throw new PcaApiError(400, 'INVALID_INPUT', 'csr subjectAltName could not be parsed.');
    }
    for (const n of san.names.items) {
      if (n.type === 'dns') dnsNames.push(n.value);
      else if (n.type === 'ip') ipAddresses.push(n.value);
    }
  }
  if (!commonName && dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new PcaApiError(400, 'INVALID_INPUT', 'csr names no subject.');
  }
  const parsed: ParsedCsr = { publicKey: csr.publicKey, keyKind: keyShape.kind, keyShape, dnsNames, ipAddresses };
  if (commonName) parsed.commonName = commonName;
  return parsed;
}

function checkKeyType(spkiDer: Buffer): KeyShape {
  let key;
  try {
    key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw new PcaApiError(400, 'INVALID_X509_KEY_TYPE', 'unsupported key type.');
  }
  const shape = keyShapeOf(key);
  if (shape?.kind === 'RSA' && shape.bits >= 2048 && shape.bits <= 8192) return shape;
  if (shape?.kind === 'EC') return shape;
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

/** Issues the end-entity certificate for a checked CSR (profile: ARCHITECTURE "pca/", RFC 5280 §4.2). */
export async function issueLeaf(p: LeafParams): Promise<x509.X509Certificate> {
  const publicKey = p.substituteKey ? await x509.PublicKey.create(p.substituteKey) : p.csr.publicKey;
  const names: x509.JsonGeneralName[] = [
    ...p.csr.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...p.csr.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const subject = p.csr.commonName ? new x509.Name([{ CN: [p.csr.commonName] }]) : undefined;
  const usage = x509.KeyUsageFlags.digitalSignature | (p.csr.keyKind === 'RSA' && !p.substituteKey ? x509.KeyUsageFlags.keyEncipherment : 0);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    // ARI (RFC 9773) derives the certificate id from the AKI keyIdentifier, so it is always present.
    new x509.AuthorityKeyIdentifierExtension(p.issuer.keyId),
  ];
  // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, subject === undefined));
  if (p.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([p.crlUrl]));

  return x509.X509CertificateGenerator.create({
    serialNumber: p.serialHex,
    ...(subject ? { subject } : {}),
    issuer: p.issuer.cert.subjectName,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey,
    signingKey: p.issuer.key,
    signingAlgorithm: CA_SIGN_ALG,
    extensions,
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
