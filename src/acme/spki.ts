import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { bitStringBytes, children, DerError, encodingOf, expectTlv, oidOf, TAG, valueOf } from './der.js';
import { bits, oid, seq, unsignedInteger } from './der-writer.js';

// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) without OpenSSL's decoders. In Node 20 (OpenSSL 3),
// createPublicKey from SPKI DER and KeyObject.export to SPKI DER each cost about 100 µs, twice what
// a JWK import costs and fifty times a SHA-256 of the bytes (issue 11: three of them per order were
// 0.3 ms of CPU). The common key shapes — RSA, and ECDSA on P-256/P-384/P-521 with uncompressed
// points (RFC 5480 §2.2) — are converted by hand here; anything else returns null and the caller
// takes the OpenSSL path, so no key is refused here that OpenSSL would read.

const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC = '1.2.840.10045.2.1';
/** Named curves by OID (RFC 5480 §2.1.1.1), with the size of a coordinate in bytes. */
const CURVES: Record<string, { crv: 'P-256' | 'P-384' | 'P-521'; size: number }> = {
  '1.2.840.10045.3.1.7': { crv: 'P-256', size: 32 },
  '1.3.132.0.34': { crv: 'P-384', size: 48 },
  '1.3.132.0.35': { crv: 'P-521', size: 66 },
};
const CURVE_BY_CRV = new Map(Object.entries(CURVES).map(([curveOid, c]) => [c.crv as string, { ...c, oid: curveOid }]));

/** The public JWK of an SPKI DER, or null when it is not one of the shapes read here. */
export function jwkOfSpki(spki: Uint8Array): JsonWebKey | null {
  try {
    const outer = expectTlv(spki, 0, TAG.SEQUENCE);
    if (outer.end !== spki.length) return null;
    const [alg, key, ...rest] = children(spki, outer);
    if (!alg || !key || rest.length > 0 || alg.tag !== TAG.SEQUENCE || key.tag !== TAG.BIT_STRING) return null;
    const [algOid, params, ...more] = children(spki, alg);
    if (!algOid || algOid.tag !== TAG.OID || more.length > 0) return null;
    const keyBytes = bitStringBytes(spki, key);
    const oid = oidOf(spki, algOid);
    if (oid === OID_EC) {
      if (!params || params.tag !== TAG.OID) return null;
      const curve = CURVES[oidOf(spki, params)];
      if (!curve || keyBytes.length !== 1 + 2 * curve.size || keyBytes[0] !== 0x04) return null;
      return {
        kty: 'EC',
        crv: curve.crv,
        x: keyBytes.subarray(1, 1 + curve.size).toString('base64url'),
        y: keyBytes.subarray(1 + curve.size).toString('base64url'),
      };
    }
    if (oid === OID_RSA) {
      // RFC 3279 §2.3.1: the parameters field MUST be NULL.
      if (!params || params.tag !== TAG.NULL || params.end !== params.start) return null;
      const seq = expectTlv(keyBytes, 0, TAG.SEQUENCE);
      if (seq.end !== keyBytes.length) return null;
      const [n, e, ...extra] = children(keyBytes, seq);
      if (!n || !e || extra.length > 0 || n.tag !== TAG.INTEGER || e.tag !== TAG.INTEGER) return null;
      const nb = unsignedOf(valueOf(keyBytes, n));
      const eb = unsignedOf(valueOf(keyBytes, e));
      if (!nb || !eb) return null;
      return { kty: 'RSA', n: nb.toString('base64url'), e: eb.toString('base64url') };
    }
    return null;
  } catch (err) {
    if (err instanceof DerError) return null;
    throw err;
  }
}

/** A KeyObject for an SPKI DER: through a JWK where possible (half the cost), else OpenSSL's decoder. Throws as createPublicKey does. */
export function publicKeyOfSpki(spki: Buffer): KeyObject {
  const jwk = jwkOfSpki(spki);
  if (jwk) {
    try {
      return createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      // Not a key after all (a point off the curve): OpenSSL's own reading decides, below.
    }
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/** The SPKI DER of a public JWK (EC P-256/P-384/P-521 or RSA by hand, others through OpenSSL). Throws on a JWK that is not a public key. */
export function spkiOfJwk(jwk: JsonWebKey): Buffer {
  const byHand = spkiOfJwkByHand(jwk);
  return byHand ?? createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });
}

function spkiOfJwkByHand(jwk: JsonWebKey): Buffer | null {
  if (jwk.kty === 'EC' && typeof jwk.crv === 'string' && typeof jwk.x === 'string' && typeof jwk.y === 'string') {
    const curve = CURVE_BY_CRV.get(jwk.crv);
    if (!curve) return null;
    const x = Buffer.from(jwk.x, 'base64url');
    const y = Buffer.from(jwk.y, 'base64url');
    if (x.length !== curve.size || y.length !== curve.size) return null;
    // RFC 5480 §2: id-ecPublicKey with the named curve, the point uncompressed (04 || x || y).
    return seq(seq(oid(OID_EC), oid(curve.oid)), bits(Buffer.concat([Buffer.from([0x04]), x, y])));
  }
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string' && typeof jwk.e === 'string') {
    const n = unsignedOf(Buffer.from(jwk.n, 'base64url'));
    const e = unsignedOf(Buffer.from(jwk.e, 'base64url'));
    if (!n || !e) return null;
    // RFC 3279 §2.3.1: rsaEncryption with NULL parameters, RSAPublicKey ::= SEQUENCE { n, e }.
    return seq(seq(oid(OID_RSA), Buffer.from([TAG.NULL, 0x00])), bits(seq(unsignedInteger(n), unsignedInteger(e))));
  }
  return null;
}

/**
 * Whether an SPKI DER is already the form OpenSSL exports (RSA, or ECDSA with a named curve and an
 * uncompressed point: read by hand and written back identically), so its bytes may be hashed as
 * they are instead of through KeyObject.export (~0.1 ms).
 */
export function isCanonicalSpki(spki: Buffer): boolean {
  const jwk = jwkOfSpki(spki);
  return !!jwk && spkiOfJwk(jwk).equals(spki);
}

/** The subjectPublicKeyInfo element of a certificate's DER (RFC 5280 §4.1: the 6th or, with a version, 7th field of tbsCertificate). */
export function spkiOfCertificate(der: Uint8Array): Buffer {
  const cert = expectTlv(der, 0, TAG.SEQUENCE);
  const tbs = expectTlv(der, cert.start, TAG.SEQUENCE, cert.end);
  const fields = children(der, tbs);
  const index = fields[0]?.tag === 0xa0 ? 6 : 5;
  const spki = fields[index];
  if (!spki || spki.tag !== TAG.SEQUENCE) throw new DerError('certificate without a subjectPublicKeyInfo');
  return encodingOf(der, spki);
}

/** Big-endian magnitude without leading zeros; null for zero or an empty value (not a key). */
function unsignedOf(bytes: Buffer): Buffer | null {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return b.length === 0 || (b.length === 1 && b[0] === 0) ? null : b;
}
