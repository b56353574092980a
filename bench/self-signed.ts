import { webcrypto } from 'node:crypto';
import { ensureX509Crypto, x509 } from '../src/pca/x509-setup.js';

// A throw-away self-signed certificate for 127.0.0.1 / localhost: the HTTPS certificate of Pebble
// (its Debian package ships no test certificate) and the gateway's placeholder before its
// PCA-issued serving certificate is in place.

export interface SelfSigned {
  certPem: string;
  keyPem: string;
}

export async function makeSelfSigned(commonName = 'bench localhost'): Promise<SelfSigned> {
  ensureX509Crypto();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 3600_000),
    keys: keys as never,
    signingAlgorithm: alg as never,
    extensions: [
      // Trusted directly as the client's CA, so it says it is one (RFC 5280 §4.2.1.9).
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem };
}
