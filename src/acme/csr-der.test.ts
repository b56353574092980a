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

describe('readCsrDer', () => {
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
