import { constants as cryptoConstants, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { AcmeProblem } from '../acme/problems.js';
import { decodeJsonBytes, parseStrictJson } from '../acme/strict-json.js';

// JWS checks as small named steps (RFC 8555 §6.2-6.5; Boulder's verify.go and Pebble's verifyJWS as
// models). Every step throws the ACME problem a client can act on; none of them writes state. The
// nonce is redeemed by the caller (auth/verifier.ts) only after the signature verified. The same
// steps check the inner JWS of a key change (auth/key-rollover.ts) and the EAB JWS (auth/eab.ts).

/** Signature algorithms accepted on account keys (interop item 9). No "none", no MACs outside EAB. */
export const ACCOUNT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

export interface ProtectedHeader {
  alg: string;
  nonce?: string;
  url?: string;
  /** Untrusted until publicKeyFromJwk accepted it. */
  jwk?: unknown;
  kid?: string;
  [key: string]: unknown;
}

/** Step 0: the request is sent as application/jose+json (RFC 8555 §6.2); parameters and case do not matter. */
export function checkContentType(value: string | undefined): void {
  const contentType = (value ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/jose+json') {
    throw new AcmeProblem('malformed', `Content-Type must be application/jose+json (RFC 8555 §6.2), not ${contentType ? quote(contentType) : '"none"'}`, {
      status: 415,
    });
  }
}

/** Step 1: the body is one flattened JWS (RFC 7515 §7.2.2) with only a protected header. */
export function parseFlattenedJws(body: unknown): FlattenedJws {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AcmeProblem('malformed', 'the request body must be a JWS in flattened JSON serialization');
  }
  const o = body as Record<string, unknown>;
  if ('signatures' in o) throw new AcmeProblem('malformed', 'JWS general serialization (multiple signatures) is not allowed');
  if ('header' in o) throw new AcmeProblem('malformed', 'JWS unprotected headers are not allowed (RFC 8555 §6.2)');
  for (const key of ['protected', 'payload', 'signature'] as const) {
    if (typeof o[key] !== 'string') throw new AcmeProblem('malformed', `JWS member "${key}" is missing or not a string`);
  }
  for (const key of Object.keys(o)) {
    if (!['protected', 'payload', 'signature'].includes(key)) throw new AcmeProblem('malformed', `unexpected JWS member "${key}"`);
  }
  return { protected: o.protected as string, payload: o.payload as string, signature: o.signature as string };
}

/** Step 2: the protected header decodes to a JSON object. */
export function decodeProtectedHeader(jws: FlattenedJws): ProtectedHeader {
  const header = base64urlJson(jws.protected, 'protected header');
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new AcmeProblem('malformed', 'the JWS protected header is not a JSON object');
  }
  const h = header as ProtectedHeader;
  if (typeof h.alg !== 'string') throw new AcmeProblem('malformed', 'the JWS protected header has no "alg"');
  return h;
}

/** Step 3: the algorithm is on the allow-list (RFC 8555 §6.2: badSignatureAlgorithm lists what we take). */
export function checkAlgorithm(header: ProtectedHeader, allowed: string[] = ACCOUNT_ALGORITHMS): void {
  if (!allowed.includes(header.alg)) {
    throw new AcmeProblem('badSignatureAlgorithm', `JWS algorithm ${quote(header.alg)} is not supported`, { algorithms: allowed });
  }
}

/** How a JWS names its key: embedded (jwk, still to be checked by publicKeyFromJwk) or an account URL (kid). */
export type JwkReference = { kind: 'jwk'; jwk: unknown };
export type KidReference = { kind: 'kid'; kid: string };
export type KeyReference = JwkReference | KidReference;

/** Step 4: exactly one of jwk / kid (RFC 8555 §6.2), and the one this endpoint wants. */
export function checkKeyReference(header: ProtectedHeader, want: 'jwk'): JwkReference;
export function checkKeyReference(header: ProtectedHeader, want: 'kid'): KidReference;
export function checkKeyReference(header: ProtectedHeader, want: 'jwk' | 'kid' | 'either'): KeyReference;
export function checkKeyReference(header: ProtectedHeader, want: 'jwk' | 'kid' | 'either'): KeyReference {
  const hasJwk = header.jwk !== undefined;
  const hasKid = header.kid !== undefined;
  if (hasJwk && hasKid) throw new AcmeProblem('malformed', 'the JWS protected header must not contain both "jwk" and "kid"');
  if (!hasJwk && !hasKid) throw new AcmeProblem('malformed', 'the JWS protected header must contain "jwk" or "kid"');
  const mode = hasJwk ? 'jwk' : 'kid';
  if (want !== 'either' && want !== mode) {
    throw new AcmeProblem(
      'malformed',
      want === 'jwk' ? 'this request must be signed with a "jwk" header, not "kid"' : 'this request must be signed by an account ("kid"), not "jwk"',
    );
  }
  if (mode === 'jwk') return { kind: 'jwk', jwk: header.jwk };
  if (typeof header.kid !== 'string') throw new AcmeProblem('malformed', 'the JWS "kid" must be a string');
  return { kind: 'kid', kid: header.kid };
}

/** Step 5: the "url" header equals the URL the request was sent to (RFC 8555 §6.4). */
export function checkUrl(header: ProtectedHeader, requestUrl: string): void {
  if (typeof header.url !== 'string') throw new AcmeProblem('malformed', 'the JWS protected header has no "url"');
  if (header.url !== requestUrl) {
    throw new AcmeProblem('unauthorized', `the JWS "url" (${truncate(header.url)}) does not match the request URL (${requestUrl})`);
  }
}

/** Step 6: a nonce is present and well formed (RFC 8555 §6.5); it is redeemed after the signature check. */
export function checkNoncePresent(header: ProtectedHeader): string {
  if (typeof header.nonce !== 'string' || header.nonce === '') {
    throw new AcmeProblem('badNonce', 'JWS has an invalid anti-replay nonce: the protected header has no "nonce"');
  }
  if (!/^[A-Za-z0-9_-]+$/.test(header.nonce)) {
    throw new AcmeProblem('badNonce', 'JWS has an invalid anti-replay nonce: the nonce is not base64url');
  }
  return header.nonce;
}

/**
 * RSA account keys: 2048 to 8192 bits, public exponent of at most 32 bits. The upper bounds keep a
 * signature check cheap: RSA verification grows with the square of the modulus and with the length
 * of the exponent, and these are refused from the JWK's text, before anything parses or uses them.
 */
export const RSA_MAX_BITS = 8192;
const RSA_MAX_EXPONENT_BITS = 32;

/** A public key from a JWK: no private members, a key type we accept, RSA keys of 2048 to 8192 bits. */
export function publicKeyFromJwk(jwk: unknown): KeyObject {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new AcmeProblem('malformed', 'the JWS "jwk" is not a JSON object');
  const k = jwk as JWK;
  if (k.d !== undefined || k.p !== undefined || k.k !== undefined) {
    throw new AcmeProblem('badPublicKey', 'the JWS "jwk" must be a public key (it contains private or symmetric key material)');
  }
  if (k.kty !== 'RSA' && k.kty !== 'EC' && k.kty !== 'OKP') {
    throw new AcmeProblem('badPublicKey', `key type ${quote(k.kty)} is not supported: use RSA, EC or OKP (Ed25519)`);
  }
  if (k.kty === 'RSA') checkRsaSize(k);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: k as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    throw new AcmeProblem('badPublicKey', 'the JWS "jwk" is not a valid public key');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) < 2048) {
    throw new AcmeProblem('badPublicKey', `RSA account keys must be at least 2048 bits (got ${details.modulusLength})`);
  }
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) > RSA_MAX_BITS) {
    throw new AcmeProblem('badPublicKey', `RSA account keys must be at most ${RSA_MAX_BITS} bits (got ${details.modulusLength})`);
  }
  if (key.asymmetricKeyType === 'ec' && !['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) {
    throw new AcmeProblem('badPublicKey', `EC curve ${details.namedCurve ?? '?'} is not supported: use P-256, P-384 or P-521`);
  }
  if (key.asymmetricKeyType === 'ed448' || key.asymmetricKeyType === 'x25519' || key.asymmetricKeyType === 'x448') {
    throw new AcmeProblem('badPublicKey', `key type ${key.asymmetricKeyType} is not supported for signing`);
  }
  return key;
}

/** The modulus and exponent sizes from the base64url text alone (leading zero bytes do not count). */
function checkRsaSize(k: JWK): void {
  const bits = (b64: unknown): number => {
    if (typeof b64 !== 'string') return 0; // createPublicKey refuses it
    const bytes = Buffer.from(b64, 'base64url');
    let i = 0;
    while (i < bytes.length && bytes[i] === 0) i++;
    return i === bytes.length ? 0 : (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
  };
  // Cheap before decoding: 8192 bits are 1366 base64url characters; allow a few leading zero bytes.
  if (typeof k.n === 'string' && k.n.length > 1400) throw new AcmeProblem('badPublicKey', `RSA account keys must be at most ${RSA_MAX_BITS} bits`);
  const n = bits(k.n);
  if (n > RSA_MAX_BITS) throw new AcmeProblem('badPublicKey', `RSA account keys must be at most ${RSA_MAX_BITS} bits (got ${n})`);
  if (typeof k.e === 'string' && (k.e.length > 12 || bits(k.e) > RSA_MAX_EXPONENT_BITS)) {
    throw new AcmeProblem('badPublicKey', `the RSA public exponent must be at most ${RSA_MAX_EXPONENT_BITS} bits (65537 is usual)`);
  }
}

/** The public members of a JWK only, in a stable shape for storage and thumbprints. */
export function publicJwk(jwk: JWK): JWK {
  switch (jwk.kty) {
    case 'RSA':
      return { kty: 'RSA', n: jwk.n, e: jwk.e };
    case 'EC':
      return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
    default:
      return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  }
}

/** RFC 7638 thumbprint, base64url SHA-256: the key's identity and the key authorization's suffix (RFC 8555 §8.1). */
export const jwkThumbprint = (jwk: JWK): Promise<string> => calculateJwkThumbprint(publicJwk(jwk), 'sha256');

/** An embedded key (a header "jwk") accepted by publicKeyFromJwk, in its stored shape, with its thumbprint. */
export interface EmbeddedKey {
  key: KeyObject;
  jwk: JWK;
  thumbprint: string;
}

export async function embeddedKey(jwk: unknown): Promise<EmbeddedKey> {
  const key = publicKeyFromJwk(jwk);
  const stored = publicJwk(jwk as JWK); // publicKeyFromJwk proved it is a public JWK object
  return { key, jwk: stored, thumbprint: await jwkThumbprint(stored) };
}

/** How each JWS algorithm maps onto node:crypto (RFC 7518 §3), and the key it needs. */
const ALG_PARAMS: Record<string, { hash: string | null; keyType: string; curve?: string; pss?: boolean; p1363?: boolean }> = {
  RS256: { hash: 'sha256', keyType: 'rsa' },
  RS384: { hash: 'sha384', keyType: 'rsa' },
  RS512: { hash: 'sha512', keyType: 'rsa' },
  PS256: { hash: 'sha256', keyType: 'rsa', pss: true },
  PS384: { hash: 'sha384', keyType: 'rsa', pss: true },
  PS512: { hash: 'sha512', keyType: 'rsa', pss: true },
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1', p1363: true },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1', p1363: true },
  ES512: { hash: 'sha512', keyType: 'ec', curve: 'secp521r1', p1363: true },
  EdDSA: { hash: null, keyType: 'ed25519' },
};

/**
 * Step 7: the signature verifies with the key and the header's algorithm. Done with node:crypto on
 * the cached KeyObject: about 2.5x cheaper than going through jose/WebCrypto (notes/stack-costs.md).
 */
export async function verifySignature(
  jws: FlattenedJws,
  key: KeyObject,
  algorithms: string[] = ACCOUNT_ALGORITHMS,
  /** The header as the caller already decoded it (step 2), so it is not parsed twice. */
  header: ProtectedHeader = decodeProtectedHeader(jws),
): Promise<void> {
  if (header.crit !== undefined) throw new AcmeProblem('malformed', 'JWS "crit" header parameters are not supported');
  const params = ALG_PARAMS[header.alg];
  if (!params || !algorithms.includes(header.alg)) {
    throw new AcmeProblem('badSignatureAlgorithm', `JWS algorithm ${quote(header.alg)} is not supported`, { algorithms });
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType !== params.keyType || (params.curve && details.namedCurve !== params.curve)) {
    // The key is fine but cannot have made this signature (e.g. another key under the account's kid).
    throw new AcmeProblem('malformed', `JWS verification error: the key cannot verify a ${header.alg} signature`);
  }
  const data = Buffer.from(`${jws.protected}.${jws.payload}`, 'ascii');
  const signature = base64urlDecode(jws.signature, 'signature');
  const verifyKey = params.pss
    ? { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }
    : params.p1363
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : key;
  let ok = false;
  try {
    ok = cryptoVerify(params.hash, data, verifyKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new AcmeProblem('malformed', 'JWS verification error: the signature does not verify with the key');
}

/** Step 8: the payload: "" is POST-as-GET (RFC 8555 §6.3), anything else must be a JSON object. */
export function decodePayload(jws: FlattenedJws): Record<string, unknown> | null {
  if (jws.payload === '') return null;
  const value = base64urlJson(jws.payload, 'payload');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AcmeProblem('malformed', 'the JWS payload must be a JSON object');
  }
  return value as Record<string, unknown>;
}

export function base64urlDecode(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new AcmeProblem('malformed', `the JWS ${what} is not base64url`);
  return Buffer.from(text, 'base64url');
}

/**
 * A base64url member holding JSON (header, payload, EAB payload): malformed when it is neither. The
 * JSON is strict (acme/strict-json.ts): RFC 7515 §4 has a JWS with a duplicate header name rejected,
 * and a payload whose members two parsers could read differently is refused the same way.
 */
export function base64urlJson(text: string, what: string): unknown {
  const bytes = base64urlDecode(text, what);
  return parseStrictJson(decodeJsonBytes(bytes, `the JWS ${what}`), `the JWS ${what}`);
}

const truncate = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** A client's value in a problem detail: JSON-quoted (control characters escaped) and cut short. */
const quote = (v: unknown): string => JSON.stringify(truncate(String(v), 64));
