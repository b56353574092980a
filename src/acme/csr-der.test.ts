import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCsr, type CsrKeyType } from '../pca/make-csr.js';
import { x509 } from '../pca/x509-setup.js';
import { csrCommonNames, csrSubjectAltNames, readCsrDer, verifyCsrSignature } from './csr-der.js';

// The DER reading of a CSR (issue 11) against @peculiar/x509, which finalize and the simulator used
// before: the same key, names and signature verdict on CSRs from @peculiar itself and from openssl
// (RSA PKCS#1 v1.5 and PSS, P-256, P-384, DNS and IP names, IPv6).

const derOf = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

async function peculiarView(der: Buffer) {
  const csr = new x509.Pkcs10CertificateRequest(der);
  const ext = csr.getExtension('2.5.29.17');
  const san = ext ? new x509.SubjectAlternativeNameExtension(ext.rawData) : null;
  return {
    spki: Buffer.from(csr.publicKey.rawData).toString('hex'),
    cns: csr.subjectName.getField('CN'),
    san: san ? san.names.items.map((n) => ({ type: n.type, value: n.value })) : null,
    verified: await csr.verify(),
  };
}

function derView(der: Buffer) {
  const csr = readCsrDer(der);
  return {
    spki: csr.spki.toString('hex'),
    cns: csrCommonNames(csr),
    san: csrSubjectAltNames(csr),
    verified: verifyCsrSignature(csr, createPublicKey({ key: csr.spki, format: 'der', type: 'spki' })),
  };
}

const RUBY_ACME_CLIENT_CSR = [
  'MIIChDCCAWwCAQIwFjEUMBIGA1UEAwwLcmIuZTJlLnRlc3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDX/VGe',
  'oPhpXWjuK0koOBpRHrL6Rw096hLCNBAt1nzMK9Xg9b7I5ubH/m6eNafn+TBQy6ShcgH3uCWYpSNVxGCWEYlNVr63GIu/ZC3r',
  'XhIl/n//cgLVqbABXFP5U0f3i0PUxn270PXYTeqboAJFSDaYqoMWST8ylHCYGqu5TSeP9mwfNikHrgM0qZBZNKjmcXURSJ/6',
  'gdalMXiboAEH5MWYoTG/1IqCBrPDNHkXxaHttYNBbiC7aCN5tiVE+Ricmz8fDrpI8LBQlbwCFv5vqA3pQLiWQxWnJPflSMOm',
  'KWHAM9mRSCGYAJ2r9ozhKfSvHnw1oeo7KvkjwB1vPNyZQk11AgMBAAGgKTAnBgkqhkiG9w0BCQ4xGjAYMBYGA1UdEQQPMA2C',
  'C3JiLmUyZS50ZXN0MA0GCSqGSIb3DQEBCwUAA4IBAQAKMpYRvMuT83uLOtZfFvMaLHrvy4oXLmMvL9xskqFHhf/vgaBkVVCH',
  '/HIkBgtmP4wcUgDNi685vh/syvUI9eHCmW0srrl4PyAwf2r/aw+Ev1rfaXwRZA25J+bIitTDztKzaCKmsTAbdlOZ3ns7+sAl',
  '6bp7Au6V0S16eRhkbQVHnPATQXiQXBeT2XbRrE+aab2txZ6mMjJUVHLbNdKnvoR+FSmylOV8OUUlJHwF8Xild97BmKabgtxr',
  '+yhmajFpM0py6a4jHvF1OVbZO0T99eSESPoAr3xnY8n6nWMEDudPCtgckT4RxT+mcowbyarYDKfLy+CqEO4RohorCPbHDTnX',
].join('');

describe('readCsrDer', () => {
  // A request exactly as ruby acme-client 2.0.9 makes one (Acme::Client::CertificateRequest, RSA 2048,
  // CN and SAN rb.e2e.test): its version is 2, not RFC 2986's 0. @peculiar/x509 and openssl read it,
  // and the e2e library-clients test finalizes with one.
  it('a version-2 request (ruby acme-client) is read and verifies, as @peculiar/x509 reads it', async () => {
    const der = Buffer.from(RUBY_ACME_CLIENT_CSR, 'base64');
    const view = derView(der);
    expect(view).toEqual(await peculiarView(der));
    expect(view.verified).toBe(true);
    expect(view.san).toEqual([{ type: 'dns', value: 'rb.e2e.test' }]);
  });

  it('a request version other than 0-2 is refused', () => {
    const der = Buffer.from(RUBY_ACME_CLIENT_CSR, 'base64');
    const at = der.indexOf(Buffer.from([0x02, 0x01, 0x02])); // the version INTEGER, the first in the request
    expect(at).toBeGreaterThan(0);
    const v3 = Buffer.from(der);
    v3[at + 2] = 3;
    expect(() => readCsrDer(v3)).toThrow(/unknown request version/);
  });

  it.each<[CsrKeyType, string[]]>([
    ['P256', ['a.example.com', 'b.example.com']],
    ['P384', ['p384.example.com', '192.0.2.7']],
    ['RSA2048', ['rsa.example.com', '2001:db8::1']],
  ])('%s %j: the key, names and verdict @peculiar/x509 reads', async (keyType, names) => {
    const der = derOf((await makeCsr(names, { keyType })).csrPem);
    expect(derView(der)).toEqual(await peculiarView(der));
    expect(derView(der).verified).toBe(true);
  });

  it('openssl CSRs: RSA-PSS with SHA-256 and salt 32 and an IPv6 SAN, and a plain RSA one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csr-der-'));
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(dir, 'key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
      const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      run(['req', '-new', '-key', 'key.pem', '-subj', '/CN=pss.example.com', '-addext', 'subjectAltName=DNS:pss.example.com,IP:2001:db8:0:0:1:0:0:1',
        '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-sha256', '-out', 'pss.pem']);
      run(['req', '-new', '-key', 'key.pem', '-utf8', '-subj', '/CN=bmp.example.com', '-multivalue-rdn', '-out', 'plain.pem']);
      for (const file of ['pss.pem', 'plain.pem']) {
        const der = derOf(readFileSync(join(dir, file), 'utf8'));
        const mine = derView(der);
        expect(mine.verified, file).toBe(true);
        expect(mine).toEqual(await peculiarView(der));
      }
      expect(derView(derOf(readFileSync(join(dir, 'pss.pem'), 'utf8'))).san).toEqual([
        { type: 'dns', value: 'pss.example.com' },
        { type: 'ip', value: '2001:db8::1:0:0:1' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a CSR signed by another key does not verify; a damaged signature does not verify, and none throws', async () => {
    const a = derOf((await makeCsr(['x.example.com'])).csrPem);
    const other = await makeCsr(['x.example.com']);
    const csr = readCsrDer(a);
    const otherKey = createPublicKey({ key: readCsrDer(derOf(other.csrPem)).spki, format: 'der', type: 'spki' });
    expect(verifyCsrSignature(csr, otherKey)).toBe(false);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(verifyCsrSignature(csr, rsa)).toBe(false);
    for (let i = 0; i < csr.signature.length; i++) {
      const damaged = { ...csr, signature: Buffer.from(csr.signature) };
      damaged.signature[i]! ^= 0x10;
      expect(verifyCsrSignature(damaged, createPublicKey({ key: csr.spki, format: 'der', type: 'spki' }))).toBe(false);
    }
  });

  it('names of other kinds are reported by kind', async () => {
    const keys = (await makeCsr(['k.example.com'])).keys;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=k.example.com',
      keys: keys as never,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as never,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'k.example.com' }, { type: 'email', value: 'a@example.com' }, { type: 'url', value: 'https://k.example.com/' }])],
    });
    expect(csrSubjectAltNames(readCsrDer(Buffer.from(csr.rawData)))).toEqual([
      { type: 'dns', value: 'k.example.com' },
      { type: 'other', kind: 'email' },
      { type: 'other', kind: 'url' },
    ]);
  });
});
