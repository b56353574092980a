import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { spkiSha256Hex } from '../acme/csr.js';
import { ensureX509Crypto, x509 } from './x509-setup.js';

export type CsrKeyType = 'RSA2048' | 'P256' | 'P384' | 'P521' | 'Ed25519' | 'RSA1024';

const KEY_ALGS: Record<CsrKeyType, { gen: object; sign: object }> = {
  RSA2048: { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  RSA1024: { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  P256: { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  P384: { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  P521: { gen: { name: 'ECDSA', namedCurve: 'P-521' }, sign: { name: 'ECDSA', hash: 'SHA-512' } },
  Ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export interface GeneratedCsr {
  csrPem: string;
  /** Hex SHA-256 of the CSR's SubjectPublicKeyInfo DER (compare with /_simulator/issued). */
  spkiSha256: string;
  keys: webcrypto.CryptoKeyPair;
}

/**
 * Builds a PKCS#10 CSR with a fresh key (the serving certificate, tests, the benchmark): DNS and IP
 * names go into subjectAltName, the first name into the CN unless `commonName: null`.
 */
export async function makeCsr(
  names: string[],
  opts: { keyType?: CsrKeyType; commonName?: string | null; /** Sign with this key pair instead of a fresh one. */ keys?: webcrypto.CryptoKeyPair } = {},
): Promise<GeneratedCsr> {
  ensureX509Crypto();
  const alg = KEY_ALGS[opts.keyType ?? 'P256'];
  const keys = opts.keys ?? ((await webcrypto.subtle.generateKey(alg.gen as never, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
  const cn = opts.commonName === undefined ? names[0] : opts.commonName;
  const san = names.map((value) => ({ type: isIP(value) ? ('ip' as const) : ('dns' as const), value }));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(cn ? { name: [{ CN: [cn] }] } : {}),
    keys: keys as never,
    signingAlgorithm: alg.sign as never,
    extensions: san.length ? [new x509.SubjectAlternativeNameExtension(san)] : [],
  });
  const spki = await webcrypto.subtle.exportKey('spki', keys.publicKey);
  return { csrPem: csr.toString('pem'), spkiSha256: spkiSha256Hex(new Uint8Array(spki)), keys };
}
