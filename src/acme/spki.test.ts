import { createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jwkOfSpki, publicKeyOfSpki, spkiOfCertificate, spkiOfJwk } from './spki.js';
import { spkiSha256OfCert } from './issued-check.js';
import { spkiSha256Hex } from './csr.js';

// The hand-written SPKI conversions must give exactly what OpenSSL gives, for every key shape they
// take, and step aside (null) for every other one.

const keys: Array<[string, () => KeyObject]> = [
  ['P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
  ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
  ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
  ['RSA 3072, e=3', () => generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).publicKey],
  ['RSA 4096', () => generateKeyPairSync('rsa', { modulusLength: 4096 }).publicKey],
];

describe('SPKI by hand (acme/spki.ts)', () => {
  it.each(keys)('%s: JWK ⇄ SPKI DER as OpenSSL reads and writes them', (name, make) => {
    for (let i = 0; i < (name.startsWith('RSA') ? 1 : 3); i++) {
      const key = make();
      const spki = key.export({ format: 'der', type: 'spki' });
      const jwk = key.export({ format: 'jwk' });
      expect(jwkOfSpki(spki)).toEqual({ kty: jwk.kty, ...(jwk.crv ? { crv: jwk.crv, x: jwk.x, y: jwk.y } : { n: jwk.n, e: jwk.e }) });
      expect(spkiOfJwk(jwk).equals(spki)).toBe(true);
      expect(publicKeyOfSpki(spki).equals(key)).toBe(true);
    }
  });

  it('steps aside for shapes it does not write: Ed25519, RSA-PSS, a compressed point, trailing bytes, garbage', () => {
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(jwkOfSpki(ed)).toBeNull();
    expect(publicKeyOfSpki(ed).asymmetricKeyType).toBe('ed25519'); // OpenSSL's path still reads it
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
    expect(jwkOfSpki(pss)).toBeNull();
    expect(publicKeyOfSpki(pss).asymmetricKeyType).toBe('rsa-pss');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const compressed = createPublicKey({ key: ec.export({ format: 'jwk' }), format: 'jwk' }).export({ format: 'der', type: 'spki' });
    const point = Buffer.from(compressed.subarray(compressed.length - 65));
    const short = Buffer.concat([compressed.subarray(0, compressed.length - 65), Buffer.from([point[64]! & 1 ? 0x03 : 0x02]), point.subarray(1, 33)]);
    short[1] = short.length - 2;
    short[short.length - 35] = 34; // BIT STRING length
    expect(jwkOfSpki(short)).toBeNull();
    expect(jwkOfSpki(Buffer.concat([compressed, Buffer.from([0])]))).toBeNull();
    expect(jwkOfSpki(Buffer.from('not der'))).toBeNull();
    expect(() => publicKeyOfSpki(Buffer.from('not der'))).toThrow();
  });

  it('a point off the curve is refused as OpenSSL refuses it', () => {
    const spki = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
    spki.writeUInt8(spki.readUInt8(spki.length - 1) ^ 1, spki.length - 1);
    expect(() => createPublicKey({ key: spki, format: 'der', type: 'spki' })).toThrow();
    expect(() => publicKeyOfSpki(spki)).toThrow();
  });

  it("a certificate's SPKI and its hash match OpenSSL's export, with and without a version field", () => {
    const dir = mkdtempSync(join(tmpdir(), 'spki-'));
    try {
      for (const alg of [['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], ['-newkey', 'rsa:2048']]) {
        execFileSync('openssl', ['req', '-x509', ...alg, '-nodes', '-days', '1', '-subj', '/CN=spki.test', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
        // The same key in a version 1 certificate, which has no version field (RFC 5280 §4.1: DEFAULT v1).
        execFileSync('openssl', ['req', '-new', '-key', join(dir, 'k.pem'), '-subj', '/CN=spki.test', '-out', join(dir, 'r.csr')], { stdio: 'ignore' });
        execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'r.csr'), '-signkey', join(dir, 'k.pem'), '-days', '1', '-out', join(dir, 'v1.pem')], { stdio: 'ignore' });
        for (const file of ['c.pem', 'v1.pem']) {
          const cert = new X509Certificate(readFileSync(join(dir, file)));
          const exported = cert.publicKey.export({ format: 'der', type: 'spki' });
          expect(spkiOfCertificate(cert.raw).equals(exported)).toBe(true);
          expect(spkiSha256OfCert(cert)).toBe(spkiSha256Hex(exported));
        }
        expect(new X509Certificate(readFileSync(join(dir, 'v1.pem'))).toLegacyObject()).toBeDefined();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
