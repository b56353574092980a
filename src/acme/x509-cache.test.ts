import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePemBlocks } from './pem.js';
import { certificateFromDer, certificateFromPem, issuedBy } from './x509-cache.js';

// The parse and signature cache shared by the chain builder and the issued-certificate check: it
// must give the answers an uncached parse and verify would give, a forged issuer included.

const KEY_ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN_ALG: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const newKeys = async () => (await webcrypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
let serial = 1;

async function selfSigned(name: string, keys: webcrypto.CryptoKeyPair): Promise<string> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    name,
    keys,
    signingAlgorithm: SIGN_ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  return cert.toString('pem');
}

async function leafOf(issuerName: string, issuerKeys: webcrypto.CryptoKeyPair, cn: string): Promise<string> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    subject: `CN=${cn}`,
    issuer: issuerName,
    publicKey: keys.publicKey,
    signingKey: issuerKeys.privateKey,
    signingAlgorithm: SIGN_ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
  });
  return cert.toString('pem');
}

let caKeys: webcrypto.CryptoKeyPair;
let caPem: string;
let forgedPem: string;
let leafPem: string;
beforeAll(async () => {
  x509.cryptoProvider.set(webcrypto);
  caKeys = await newKeys();
  caPem = await selfSigned('CN=Cache Test CA', caKeys);
  // Same name, another key: names match (checkIssued without key ids), the signature does not.
  forgedPem = await selfSigned('CN=Cache Test CA', await newKeys());
  leafPem = await leafOf('CN=Cache Test CA', caKeys, 'leaf.example.com');
});

describe('x509 cache', () => {
  it('one parse per DER: the same DER, from DER or PEM, is the same object, and it is the certificate', () => {
    const der = parsePemBlocks(leafPem, 'CERTIFICATE')[0]!.der;
    const a = certificateFromDer(der);
    expect(certificateFromPem(leafPem)).toBe(a);
    expect(a.fingerprint256).toBe(new X509Certificate(leafPem).fingerprint256);
  });

  it('issuedBy answers as checkIssued + verify do, and a refused issuer is asked again (only successes are kept)', () => {
    const leaf = certificateFromPem(leafPem);
    const forged = certificateFromPem(forgedPem);
    expect(issuedBy(leaf, forged)).toBe(false);
    expect(issuedBy(leaf, forged)).toBe(false);
    expect(issuedBy(leaf, certificateFromPem(caPem))).toBe(true);
    expect(issuedBy(leaf, certificateFromPem(caPem))).toBe(true);
    expect(issuedBy(certificateFromPem(caPem), leaf)).toBe(false);
  });

  it('text that is not PEM is refused the way X509Certificate refuses it', () => {
    expect(() => certificateFromPem('not a certificate')).toThrow();
  });

  it('keeps a bounded number of certificates (the least recently used leave first)', async () => {
    const ca = certificateFromPem(caPem);
    for (let i = 0; i < 70; i++) {
      certificateFromPem(await leafOf('CN=Cache Test CA', caKeys, `l${i}.example.com`));
      certificateFromPem(caPem); // used on every issuance: stays
    }
    expect(certificateFromPem(caPem)).toBe(ca);
    // The first leaf was pushed out: parsing it again gives a new (equal) object.
    const again = certificateFromPem(leafPem);
    expect(again.fingerprint256).toBe(new X509Certificate(leafPem).fingerprint256);
  });
});
