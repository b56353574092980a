import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { FlattenedSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { AcmeProblem } from '../acme/problems.js';
import {
  ACCOUNT_ALGORITHMS,
  base64urlJson,
  checkAlgorithm,
  checkContentType,
  checkKeyReference,
  checkNoncePresent,
  checkUrl,
  decodePayload,
  decodeProtectedHeader,
  embeddedKey,
  jwkThumbprint,
  parseFlattenedJws,
  publicKeyFromJwk,
  verifySignature,
  type FlattenedJws,
  type ProtectedHeader,
} from './jws.js';

// One group per step of auth/jws.ts. Each case pins the problem type, status and (where another
// rule would also refuse the input) the detail, so that removing the rule's line fails a case.

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const json64 = (v: unknown) => b64u(JSON.stringify(v));

function caught(fn: () => unknown): AcmeProblem {
  try {
    fn();
  } catch (err) {
    if (err instanceof AcmeProblem) return err;
    throw err;
  }
  throw new Error('expected an AcmeProblem, nothing was thrown');
}

async function caughtAsync(fn: () => Promise<unknown>): Promise<AcmeProblem> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AcmeProblem) return err;
    throw err;
  }
  throw new Error('expected an AcmeProblem, nothing was thrown');
}

function expectProblem(p: AcmeProblem, type: string, status: number, detail?: RegExp): void {
  expect(p.type).toBe(type);
  expect(p.status).toBe(status);
  if (detail) expect(p.detail).toMatch(detail);
}

const header = (h: Record<string, unknown>): ProtectedHeader => ({ alg: 'ES256', ...h }) as ProtectedHeader;

describe('checkContentType (RFC 8555 §6.2)', () => {
  it.each(['application/jose+json', 'Application/JOSE+JSON', 'application/jose+json; charset=utf-8', ' application/jose+json '])('accepts %j', (v) => {
    expect(() => checkContentType(v)).not.toThrow();
  });

  it.each([
    ['application/json', /"application\/json"/],
    ['text/plain', /"text\/plain"/],
    ['', /"none"/],
    [undefined, /"none"/],
  ])('refuses %j with 415 malformed', (v, detail) => {
    expectProblem(caught(() => checkContentType(v)), 'malformed', 415, detail);
  });
});

describe('parseFlattenedJws (RFC 7515 §7.2.2, RFC 8555 §6.2)', () => {
  const ok = { protected: 'e30', payload: '', signature: 'c2ln' };

  it('returns the three members', () => {
    expect(parseFlattenedJws({ ...ok })).toEqual(ok);
  });

  it.each([null, 'a string', 42, [ok]])('refuses a body that is not an object: %j', (body) => {
    expectProblem(caught(() => parseFlattenedJws(body)), 'malformed', 400, /flattened JSON serialization/);
  });

  it('refuses the general serialization (several signatures)', () => {
    const body = { payload: '', signatures: [{ protected: 'e30', signature: 'c2ln' }] };
    expectProblem(caught(() => parseFlattenedJws(body)), 'malformed', 400, /general serialization/);
  });

  it('refuses an unprotected header', () => {
    expectProblem(caught(() => parseFlattenedJws({ ...ok, header: { kid: 'x' } })), 'malformed', 400, /unprotected headers/);
  });

  it.each(['protected', 'payload', 'signature'])('refuses a missing or non-string "%s"', (member) => {
    expectProblem(caught(() => parseFlattenedJws({ ...ok, [member]: undefined })), 'malformed', 400, new RegExp(`"${member}" is missing`));
    expectProblem(caught(() => parseFlattenedJws({ ...ok, [member]: 7 })), 'malformed', 400, new RegExp(`"${member}" is missing`));
  });

  it('refuses an unexpected member', () => {
    expectProblem(caught(() => parseFlattenedJws({ ...ok, extra: 'x' })), 'malformed', 400, /unexpected JWS member "extra"/);
  });
});

describe('decodeProtectedHeader', () => {
  const jws = (protectedB64: string): FlattenedJws => ({ protected: protectedB64, payload: '', signature: '' });

  it('decodes a JSON object with an alg', () => {
    expect(decodeProtectedHeader(jws(json64({ alg: 'ES256', nonce: 'n', url: 'u' })))).toEqual({ alg: 'ES256', nonce: 'n', url: 'u' });
  });

  it.each(['??>', '>>>'])('refuses standard base64 (+, /, padding) of a good header: u=%j', (u) => {
    const standard = Buffer.from(JSON.stringify({ alg: 'ES256', u })).toString('base64');
    expect(standard).toMatch(/[+/]/);
    expectProblem(caught(() => decodeProtectedHeader(jws(standard))), 'malformed', 400, /protected header is not base64url/);
    expectProblem(caught(() => decodeProtectedHeader(jws(standard.replace(/\+/g, '-').replace(/\//g, '_')))), 'malformed', 400, /not base64url/);
  });

  it('refuses base64url that is not JSON', () => {
    expectProblem(caught(() => decodeProtectedHeader(jws(b64u('{alg: ES256')))), 'malformed', 400, /protected header is not valid JSON/);
  });

  it.each([[[]], [42], [null], ['ES256']])('refuses JSON that is not an object: %j', (value) => {
    expectProblem(caught(() => decodeProtectedHeader(jws(json64(value)))), 'malformed', 400, /not a JSON object/);
  });

  it.each([{}, { alg: 256 }, { alg: null }])('refuses a header without a string alg: %j', (value) => {
    expectProblem(caught(() => decodeProtectedHeader(jws(json64(value)))), 'malformed', 400, /no "alg"/);
  });
});

describe('checkAlgorithm (RFC 8555 §6.2)', () => {
  it.each(ACCOUNT_ALGORITHMS)('accepts %s', (alg) => {
    expect(() => checkAlgorithm(header({ alg }))).not.toThrow();
  });

  it.each(['none', 'HS256', 'HS512', 'RS1', 'es256', ''])('refuses %j with badSignatureAlgorithm and the list', (alg) => {
    const p = caught(() => checkAlgorithm(header({ alg })));
    expectProblem(p, 'badSignatureAlgorithm', 400);
    expect(p.algorithms).toEqual(ACCOUNT_ALGORITHMS);
  });

  it('takes another allow-list', () => {
    expect(() => checkAlgorithm(header({ alg: 'HS256' }), ['HS256'])).not.toThrow();
    expect(caught(() => checkAlgorithm(header({ alg: 'ES256' }), ['HS256'])).algorithms).toEqual(['HS256']);
  });
});

describe('checkKeyReference (RFC 8555 §6.2)', () => {
  const jwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };
  const kid = 'https://acme.test/acct/abc';

  it('returns the reference the endpoint wants', () => {
    expect(checkKeyReference(header({ jwk }), 'jwk')).toEqual({ kind: 'jwk', jwk });
    expect(checkKeyReference(header({ kid }), 'kid')).toEqual({ kind: 'kid', kid });
    expect(checkKeyReference(header({ jwk }), 'either')).toEqual({ kind: 'jwk', jwk });
    expect(checkKeyReference(header({ kid }), 'either')).toEqual({ kind: 'kid', kid });
  });

  it.each(['jwk', 'kid', 'either'] as const)('refuses jwk and kid together (want %s)', (want) => {
    expectProblem(caught(() => checkKeyReference(header({ jwk, kid }), want)), 'malformed', 400, /both "jwk" and "kid"/);
  });

  it.each(['jwk', 'kid', 'either'] as const)('refuses neither jwk nor kid (want %s)', (want) => {
    expectProblem(caught(() => checkKeyReference(header({}), want)), 'malformed', 400, /must contain "jwk" or "kid"/);
  });

  it('refuses the other kind than the endpoint wants', () => {
    expectProblem(caught(() => checkKeyReference(header({ kid }), 'jwk')), 'malformed', 400, /signed with a "jwk"/);
    expectProblem(caught(() => checkKeyReference(header({ jwk }), 'kid')), 'malformed', 400, /signed by an account/);
  });

  it.each([42, null, { url: kid }])('refuses a kid that is not a string: %j', (value) => {
    expectProblem(caught(() => checkKeyReference(header({ kid: value }), 'kid')), 'malformed', 400, /"kid" must be a string/);
    expectProblem(caught(() => checkKeyReference(header({ kid: value }), 'either')), 'malformed', 400, /"kid" must be a string/);
  });
});

describe('checkUrl (RFC 8555 §6.4)', () => {
  const url = 'https://acme.test/order/abc';

  it('accepts the exact request URL', () => {
    expect(() => checkUrl(header({ url }), url)).not.toThrow();
  });

  it.each([undefined, 42, null])('refuses a missing or non-string url (%j) as malformed', (value) => {
    expectProblem(caught(() => checkUrl(header({ url: value }), url)), 'malformed', 400, /no "url"/);
  });

  it.each([
    'https://acme.test/order/other',
    'https://evil.example/order/abc',
    'http://acme.test/order/abc',
    `${url}/`,
    `${url}?x=1`,
    'https://ACME.test/order/abc',
  ])('refuses %s with 403 unauthorized', (value) => {
    expectProblem(caught(() => checkUrl(header({ url: value }), url)), 'unauthorized', 403, /does not match the request URL/);
  });

  it('compares the query too (the orders list pages carry one)', () => {
    expect(() => checkUrl(header({ url: `${url}?cursor=2` }), `${url}?cursor=2`)).not.toThrow();
    expectProblem(caught(() => checkUrl(header({ url }), `${url}?cursor=2`)), 'unauthorized', 403);
  });
});

describe('checkNoncePresent (RFC 8555 §6.5)', () => {
  it('returns the nonce', () => {
    expect(checkNoncePresent(header({ nonce: 'AbC-_09' }))).toBe('AbC-_09');
  });

  it.each([undefined, '', 42, null])('refuses a missing or empty nonce (%j)', (value) => {
    expectProblem(caught(() => checkNoncePresent(header({ nonce: value }))), 'badNonce', 400, /no "nonce"/);
  });

  it.each(['abc=', 'a+b', 'a/b', 'a b', 'nonce!'])('refuses a nonce that is not base64url: %j', (value) => {
    expectProblem(caught(() => checkNoncePresent(header({ nonce: value }))), 'badNonce', 400, /not base64url/);
  });
});

describe('publicKeyFromJwk', () => {
  const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' }) as Record<string, unknown>;
  const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  it.each([
    ['RSA 2048', () => rsa2048.publicKey],
    ['P-256', () => p256.publicKey],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
  ])('accepts %s', (_name, make) => {
    const key = make();
    expect(publicKeyFromJwk(jwkOf(key)).equals(key)).toBe(true);
  });

  it.each([null, 'jwk', 42, [1]])('refuses a jwk that is not an object: %j', (value) => {
    expectProblem(caught(() => publicKeyFromJwk(value)), 'malformed', 400, /not a JSON object/);
  });

  it('refuses private key material (d, p) and symmetric keys (k)', () => {
    expectProblem(caught(() => publicKeyFromJwk(jwkOf(p256.privateKey))), 'badPublicKey', 400, /private or symmetric/);
    const rsaPriv = jwkOf(rsa2048.privateKey);
    expectProblem(caught(() => publicKeyFromJwk({ ...jwkOf(rsa2048.publicKey), p: rsaPriv.p })), 'badPublicKey', 400, /private or symmetric/);
    expectProblem(caught(() => publicKeyFromJwk({ ...jwkOf(p256.publicKey), k: b64u('secret') })), 'badPublicKey', 400, /private or symmetric/);
  });

  it.each(['oct', 'rsa', 'ec', undefined, 7])('refuses key type %j', (kty) => {
    expectProblem(caught(() => publicKeyFromJwk({ ...jwkOf(p256.publicKey), kty })), 'badPublicKey', 400, /key type "[^"]*" is not supported/);
  });

  it('refuses a jwk that is not a valid key', () => {
    expectProblem(caught(() => publicKeyFromJwk({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' })), 'badPublicKey', 400, /not a valid public key/);
  });

  it('refuses RSA keys under 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expectProblem(caught(() => publicKeyFromJwk(jwkOf(small))), 'badPublicKey', 400, /at least 2048 bits \(got 1024\)/);
  });

  // Moduli made up of random bytes with the top bit set: the size rule reads the JWK text, so no
  // 8192-bit key has to be generated (that takes seconds); a prime-free modulus parses all the same.
  const modulus = (bits: number, leadingZeros = 0) => {
    const bytes = Buffer.alloc(leadingZeros + Math.ceil(bits / 8), 0xff);
    bytes.fill(0, 0, leadingZeros);
    bytes[leadingZeros] = 0xff >> ((8 - (bits % 8)) % 8);
    return bytes.toString('base64url');
  };

  it('takes an RSA modulus of exactly 8192 bits (leading zero bytes do not count)', () => {
    expect(publicKeyFromJwk({ kty: 'RSA', n: modulus(8192), e: 'AQAB' }).asymmetricKeyDetails?.modulusLength).toBe(8192);
    expect(publicKeyFromJwk({ kty: 'RSA', n: modulus(8192, 2), e: 'AQAB' }).asymmetricKeyDetails?.modulusLength).toBe(8192);
  });

  it.each([
    ['8193 bits', modulus(8193), /at most 8192 bits \(got 8193\)/],
    ['16384 bits', modulus(16384), /at most 8192 bits$/],
    ['a megabit', 'A'.repeat(200_000), /at most 8192 bits$/],
  ])('refuses an RSA modulus of %s, from its text', (_what, n, detail) => {
    expectProblem(caught(() => publicKeyFromJwk({ kty: 'RSA', n, e: 'AQAB' })), 'badPublicKey', 400, detail);
  });

  it('refuses an RSA public exponent over 32 bits', () => {
    const n = jwkOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey).n;
    expect(publicKeyFromJwk({ kty: 'RSA', n, e: b64u(Buffer.from([0xff, 0xff, 0xff, 0xff])) })).toBeDefined();
    for (const e of [b64u(Buffer.from([1, 0, 0, 0, 1])), 'A'.repeat(400)]) {
      expectProblem(caught(() => publicKeyFromJwk({ kty: 'RSA', n, e })), 'badPublicKey', 400, /public exponent must be at most 32 bits/);
    }
  });

  it('quotes and cuts short a huge or odd key type', () => {
    const p = caught(() => publicKeyFromJwk({ kty: `\u0000${'x'.repeat(10_000)}` }));
    expect(p.detail).toMatch(/^key type "\\u0000x+…" is not supported/);
    expect(p.detail.length).toBeLessThan(150);
  });

  it('refuses EC curves other than P-256/384/521', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    expectProblem(caught(() => publicKeyFromJwk(jwkOf(k1))), 'badPublicKey', 400, /EC curve secp256k1 is not supported/);
  });

  it.each(['ed448', 'x25519', 'x448'] as const)('refuses %s (not an accepted signing key)', (type) => {
    const key = generateKeyPairSync(type as 'ed448').publicKey;
    expectProblem(caught(() => publicKeyFromJwk(jwkOf(key))), 'badPublicKey', 400, new RegExp(`key type ${type} is not supported`));
  });
});

describe('verifySignature (RFC 7515, RFC 7518 §3)', () => {
  const pairs = {
    RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
    ES384: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }),
    ES512: generateKeyPairSync('ec', { namedCurve: 'secp521r1' }),
    EdDSA: generateKeyPairSync('ed25519'),
  };
  const pairFor = (alg: string) => (alg.startsWith('RS') || alg.startsWith('PS') ? pairs.RS256 : pairs[alg as keyof typeof pairs]);

  async function signed(alg: string, extra: Record<string, unknown> = {}, payload = '{"a":1}'): Promise<FlattenedJws> {
    const jws = await new FlattenedSign(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg, nonce: 'n', url: 'u', ...extra })
      .sign(pairFor(alg).privateKey);
    return { protected: jws.protected!, payload: jws.payload, signature: jws.signature };
  }

  it.each(ACCOUNT_ALGORITHMS)('accepts a good %s signature', async (alg) => {
    await expect(verifySignature(await signed(alg), pairFor(alg).publicKey)).resolves.toBeUndefined();
  });

  it.each(['RS256', 'PS256', 'ES256', 'EdDSA'])('refuses a %s signature over another payload or header', async (alg) => {
    const jws = await signed(alg);
    const key = pairFor(alg).publicKey;
    expectProblem(await caughtAsync(() => verifySignature({ ...jws, payload: json64({ a: 2 }) }, key)), 'malformed', 400, /does not verify/);
    const otherHeader = (await signed(alg, { nonce: 'm' })).protected;
    expectProblem(await caughtAsync(() => verifySignature({ ...jws, protected: otherHeader }, key)), 'malformed', 400, /does not verify/);
  });

  it('refuses a signature by another key of the same type', async () => {
    const jws = await signed('ES256');
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expectProblem(await caughtAsync(() => verifySignature(jws, other)), 'malformed', 400, /does not verify/);
  });

  it('refuses a signature that is not base64url', async () => {
    const jws = await signed('ES256');
    expectProblem(await caughtAsync(() => verifySignature({ ...jws, signature: `${jws.signature}==` }, pairs.ES256.publicKey)), 'malformed', 400, /signature is not base64url/);
  });

  it('ECDSA signatures are the JWS form (r||s, RFC 7518 §3.4), not DER', async () => {
    const jws = await signed('ES256');
    const der = cryptoSign('sha256', Buffer.from(`${jws.protected}.${jws.payload}`), pairs.ES256.privateKey);
    expectProblem(await caughtAsync(() => verifySignature({ ...jws, signature: der.toString('base64url') }, pairs.ES256.publicKey)), 'malformed', 400, /does not verify/);
  });

  it('PS256 is RSASSA-PSS: a PKCS#1 v1.5 signature under a PS256 header does not verify', async () => {
    const protectedB64 = json64({ alg: 'PS256', nonce: 'n', url: 'u' });
    const payload = json64({ a: 1 });
    const pkcs1 = cryptoSign('sha256', Buffer.from(`${protectedB64}.${payload}`), pairs.RS256.privateKey);
    const jws = { protected: protectedB64, payload, signature: pkcs1.toString('base64url') };
    expectProblem(await caughtAsync(() => verifySignature(jws, pairs.RS256.publicKey)), 'malformed', 400, /does not verify/);
  });

  it('refuses an algorithm outside the allow-list even when the key could check it', async () => {
    const jws = await signed('ES256');
    const p = await caughtAsync(() => verifySignature(jws, pairs.ES256.publicKey, ['RS256']));
    expectProblem(p, 'badSignatureAlgorithm', 400);
    expect(p.algorithms).toEqual(['RS256']);
  });

  it('refuses an algorithm it has no parameters for', async () => {
    const jws = { protected: json64({ alg: 'HS256' }), payload: '', signature: '' };
    expectProblem(await caughtAsync(() => verifySignature(jws, pairs.ES256.publicKey, ['HS256'])), 'badSignatureAlgorithm', 400);
  });

  it.each([
    ['an RSA key under an ES256 header', 'ES256', () => pairs.RS256.publicKey],
    ['a P-256 key under an ES384 header', 'ES384', () => pairs.ES256.publicKey],
    ['an EC key under an RS256 header', 'RS256', () => pairs.ES256.publicKey],
    ['an Ed25519 key under an ES256 header', 'ES256', () => pairs.EdDSA.publicKey],
  ])('refuses %s as malformed (the key cannot have made it)', async (_name, alg, key) => {
    const jws = await signed(alg);
    expectProblem(await caughtAsync(() => verifySignature(jws, key())), 'malformed', 400, new RegExp(`cannot verify a ${alg} signature`));
  });

  it('refuses "crit" header parameters (RFC 7515 §4.1.11)', async () => {
    const jws = await signed('ES256', { crit: ['b64'], b64: true });
    expectProblem(await caughtAsync(() => verifySignature(jws, pairs.ES256.publicKey)), 'malformed', 400, /"crit"/);
  });
});

describe('decodePayload (RFC 8555 §6.3)', () => {
  const jws = (payload: string): FlattenedJws => ({ protected: 'e30', payload, signature: '' });

  it('an empty payload is POST-as-GET: null', () => {
    expect(decodePayload(jws(''))).toBeNull();
  });

  it('returns a JSON object', () => {
    expect(decodePayload(jws(json64({ a: [1], b: 'c' })))).toEqual({ a: [1], b: 'c' });
    expect(decodePayload(jws(json64({})))).toEqual({});
  });

  it('refuses text that is not base64url', () => {
    expectProblem(caught(() => decodePayload(jws('e30='))), 'malformed', 400, /payload is not base64url/);
  });

  it('refuses base64url that is not JSON', () => {
    expectProblem(caught(() => decodePayload(jws(b64u('{"a":')))), 'malformed', 400, /payload is not valid JSON/);
  });

  it.each([[[]], [1], ['text'], [null], [true]])('refuses JSON that is not an object: %j', (value) => {
    expectProblem(caught(() => decodePayload(jws(json64(value)))), 'malformed', 400, /must be a JSON object/);
  });
});

describe('base64urlJson and embeddedKey', () => {
  it('base64urlJson names what it decoded', () => {
    expect(base64urlJson(json64([1]), 'x')).toEqual([1]);
    expectProblem(caught(() => base64urlJson(b64u('nope'), 'EAB payload')), 'malformed', 400, /EAB payload is not valid JSON/);
  });

  it('embeddedKey keeps the public members only, with the RFC 7638 thumbprint', async () => {
    const pub = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' });
    const got = await embeddedKey({ ...pub, kid: 'ignored', use: 'sig' });
    expect(got.jwk).toEqual({ kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y });
    expect(got.thumbprint).toBe(await jwkThumbprint(pub as never));
    expect(got.key.asymmetricKeyType).toBe('ec');
    expectProblem(await caughtAsync(() => embeddedKey({ kty: 'oct', k: 'AAAA' })), 'badPublicKey', 400);
  });
});
