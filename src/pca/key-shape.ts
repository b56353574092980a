import { X509Certificate, type KeyObject } from 'node:crypto';
import type { KeyType } from '../acme/csr.js';

// Keys as the PCA sees them. NCP documents the key types RSA2048, RSA4096, EC256 and EC521
// (ncp-pca-api §3); NAVER's cert-manager issuer (pkg/pca/pca.go NewSigner) describes the CA's key as
// keyType "RSA" + modulus bits or "ECDSA" + curve bits, and sends that with every sign request.
// One home for those names, for the client, the CA watch and the simulator.

export interface KeyShape {
  kind: 'RSA' | 'EC';
  bits: number;
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

/** The shape of a public key; null for a type no PCA signs here (Ed25519, other curves). */
export function keyShapeOf(key: KeyObject): KeyShape | null {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return { kind: 'RSA', bits: d.modulusLength ?? 0 };
  const bits = key.asymmetricKeyType === 'ec' ? CURVE_BITS[d.namedCurve ?? ''] : undefined;
  return bits ? { kind: 'EC', bits } : null;
}

/** The key of a PEM certificate; null when it does not parse or is of another type. */
export function certificateKeyShape(certPem: string): KeyShape | null {
  try {
    return keyShapeOf(new X509Certificate(certPem).publicKey);
  } catch {
    return null;
  }
}

/** NCP's name for a key (ncp-pca-api §3: RSA2048, RSA4096, EC256, EC521). */
export const ncpKeyName = (s: KeyShape): string => `${s.kind}${s.bits}`;

/** The sign request's keyType/keyBits as NAVER's issuer derives them from the CA certificate. */
export const signKeyFields = (s: KeyShape): { keyType: 'RSA' | 'ECDSA'; keyBits: string } => ({ keyType: s.kind === 'RSA' ? 'RSA' : 'ECDSA', keyBits: String(s.bits) });

/** The gateway's key type (acme/csr.ts) of a key shape; null for a size the gateway never takes. */
export function acmeKeyType(s: KeyShape): KeyType | null {
  const name = `${s.kind}${s.bits}`;
  return (
    ({ RSA2048: 'rsa2048', RSA3072: 'rsa3072', RSA4096: 'rsa4096', EC256: 'ecdsa-p256', EC384: 'ecdsa-p384', EC521: 'ecdsa-p521' } as const)[name as 'RSA2048'] ?? null
  );
}
