import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certAuthorityKeyIdB64, certNames, issuedByDer, readCertDer } from './cert-der.js';
import { certificateNameKeys, nameKeysOf } from './csr.js';
import { authorityKeyIdB64, normalizeSerialHex } from './issued-check.js';
import { DerError } from './der.js';

// The DER reading of a leaf must say what OpenSSL (node's X509Certificate) says of the same bytes,
// and a link it cannot decide must be left to OpenSSL ('unknown'), never decided the other way.
// Certificates made with the openssl command, as a PCA would make them.

let dir: string;
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const pem = (file: string) => readFileSync(join(dir, file), 'utf8');
const der = (file: string) => new X509Certificate(pem(file)).raw;

function ca(name: string, keyOpts: string[], ext = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash'): void {
  writeFileSync(join(dir, `${name}.cnf`), `[req]\ndistinguished_name = dn\nx509_extensions = v3\n[dn]\n[v3]\n${ext}\n`);
  openssl('req', '-x509', ...keyOpts, '-nodes', '-days', '30', '-subj', `/O=Test/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-config', `${name}.cnf`);
}
function leaf(name: string, issuer: string, keyOpts: string[], opts: { san?: string; days?: string; sigopt?: string[]; extra?: string } = {}): void {
  openssl('req', '-new', ...keyOpts, '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  const ext = [`subjectAltName=${opts.san ?? `DNS:${name}`}`, 'authorityKeyIdentifier=keyid', 'basicConstraints=CA:FALSE', opts.extra ?? ''].filter(Boolean).join('\n');
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', '0x00ff' + Math.floor(Math.random() * 1e9).toString(16), '-days', opts.days ?? '10', '-extfile', `${name}.ext`, ...(opts.sigopt ?? []), '-out', `${name}.pem`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cert-der-'));
  ca('ec-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  ca('rsa-ca', ['-newkey', 'rsa:2048']);
  ca('other-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  ca('nosign-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash');
  leaf('ec.example.test', 'ec-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], { san: 'DNS:ec.example.test,DNS:www.ec.example.test,IP:192.0.2.7,IP:2001:db8::7,email:a@example.test' });
  leaf('rsa.example.test', 'rsa-ca', ['-newkey', 'rsa:2048']);
  leaf('long.example.test', 'ec-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], { days: '12000' }); // past 2049: GeneralizedTime
  leaf('pss.example.test', 'rsa-ca', ['-newkey', 'rsa:2048'], { sigopt: ['-sigopt', 'rsa_padding_mode:pss', '-sha256'] });
  leaf('nosign.example.test', 'nosign-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readCertDer (acme/cert-der.ts) against OpenSSL', () => {
  it.each(['ec.example.test', 'rsa.example.test', 'long.example.test', 'pss.example.test', 'ec-ca', 'rsa-ca'])('%s: serial, validity, key, names and AKI as X509Certificate reads them', (name) => {
    const node = new X509Certificate(pem(`${name}.pem`));
    const cert = readCertDer(node.raw);
    expect(normalizeSerialHex(cert.serialHex)).toBe(normalizeSerialHex(node.serialNumber));
    expect(cert.notBefore.getTime()).toBe(new Date(node.validFrom).getTime());
    expect(cert.notAfter.getTime()).toBe(new Date(node.validTo).getTime());
    expect(cert.spki.equals(node.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    expect(nameKeysOf(certNames(cert)).sort()).toEqual(certificateNameKeys(node).sort());
    expect(certAuthorityKeyIdB64(cert)).toBe(authorityKeyIdB64(node));
  });

  it('reads the far date as GeneralizedTime and the IP names canonically', () => {
    expect(readCertDer(der('long.example.test.pem')).notAfter.getUTCFullYear()).toBeGreaterThan(2049);
    expect(certNames(readCertDer(der('ec.example.test.pem')))).toEqual([
      { type: 'dns', value: 'ec.example.test' },
      { type: 'dns', value: 'www.ec.example.test' },
      { type: 'ip', value: '192.0.2.7' },
      { type: 'ip', value: '2001:db8::7' },
    ]);
  });

  it('refuses damaged input with a DerError: truncated, trailing bytes, not a certificate', () => {
    const raw = der('ec.example.test.pem');
    expect(() => readCertDer(raw.subarray(0, raw.length - 3))).toThrow(DerError);
    expect(() => readCertDer(Buffer.concat([raw, Buffer.from([0])]))).toThrow(DerError);
    expect(() => readCertDer(Buffer.from('not a certificate'))).toThrow(DerError);
  });
});

describe('issuedByDer: the same verdict as OpenSSL, or "unknown"', () => {
  const node = (file: string) => new X509Certificate(pem(file));
  const openSslSays = (child: X509Certificate, parent: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);

  it('its issuer: true, as OpenSSL says (ECDSA and RSA PKCS#1)', () => {
    for (const [l, c] of [['ec.example.test', 'ec-ca'], ['rsa.example.test', 'rsa-ca'], ['long.example.test', 'ec-ca']] as const) {
      expect(openSslSays(node(`${l}.pem`), node(`${c}.pem`))).toBe(true);
      expect(issuedByDer(readCertDer(der(`${l}.pem`)), node(`${c}.pem`))).toBe(true);
    }
  });

  it('another CA: never true (its name differs, so OpenSSL decides)', () => {
    expect(openSslSays(node('ec.example.test.pem'), node('other-ca.pem'))).toBe(false);
    expect(issuedByDer(readCertDer(der('ec.example.test.pem')), node('other-ca.pem'))).toBe('unknown');
  });

  it('a damaged signature: false, as OpenSSL says', () => {
    const raw = Buffer.from(der('ec.example.test.pem'));
    raw.writeUInt8(raw.readUInt8(raw.length - 2) ^ 0x01, raw.length - 2);
    const damaged = new X509Certificate(raw);
    expect(openSslSays(damaged, node('ec-ca.pem'))).toBe(false);
    expect(issuedByDer(readCertDer(raw), node('ec-ca.pem'))).toBe(false);
  });

  it('a CA whose key usage forbids certificate signing: false, as OpenSSL says', () => {
    expect(node('nosign.example.test.pem').checkIssued(node('nosign-ca.pem'))).toBe(false);
    expect(issuedByDer(readCertDer(der('nosign.example.test.pem')), node('nosign-ca.pem'))).toBe(false);
  });

  it('an RSASSA-PSS signature: "unknown", left to OpenSSL', () => {
    expect(openSslSays(node('pss.example.test.pem'), node('rsa-ca.pem'))).toBe(true);
    expect(issuedByDer(readCertDer(der('pss.example.test.pem')), node('rsa-ca.pem'))).toBe('unknown');
  });
});
