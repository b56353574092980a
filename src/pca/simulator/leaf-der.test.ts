import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { children, encodingOf, expectTlv, TAG } from '../../acme/der.js';
import { systemClock } from '../../platform/clock.js';
import { cryptoRandom } from '../../platform/random.js';
import { makeCsr, type CsrKeyType } from '../make-csr.js';
import { x509 } from '../x509-setup.js';
import { CA_SIGN_ALG, loadOrCreateCa, type CaMaterial } from './ca.js';
import { issueLeaf, parseCsr } from './leaf.js';

// The simulator's leaf written as DER (leaf-der.ts, issue 11) is the certificate @peculiar/x509's
// generator made before, byte for byte up to the signature: the same TBSCertificate for the same
// inputs (RSA and EC keys, with and without a CN, DNS and IP names, IPv6, a CRL URL), and it
// verifies under the issuing CA.

/** The certificate issueLeaf made with @peculiar/x509 before issue 11, as the reference. */
async function peculiarLeaf(ca: CaMaterial, csrPem: string, serialHex: string, notBefore: Date, notAfter: Date, crlUrl: string): Promise<Buffer> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const parsed = await parseCsr(csrPem);
  const names: x509.JsonGeneralName[] = [...parsed.dnsNames.map((value) => ({ type: 'dns' as const, value })), ...parsed.ipAddresses.map((value) => ({ type: 'ip' as const, value }))];
  const subject = parsed.commonName ? new x509.Name([{ CN: [parsed.commonName] }]) : undefined;
  const usage = x509.KeyUsageFlags.digitalSignature | (parsed.keyKind === 'RSA' ? x509.KeyUsageFlags.keyEncipherment : 0);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
    new x509.AuthorityKeyIdentifierExtension(ca.issuing.keyId),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, subject === undefined));
  extensions.push(new x509.CRLDistributionPointsExtension([crlUrl]));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    ...(subject ? { subject } : {}),
    issuer: ca.issuing.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey: ca.issuing.key,
    signingAlgorithm: CA_SIGN_ALG,
    extensions,
  });
  return Buffer.from(cert.rawData);
}

const tbsOf = (der: Buffer): string => {
  const cert = expectTlv(der, 0, TAG.SEQUENCE);
  return encodingOf(der, children(der, cert)[0]!).toString('hex');
};

describe('issueLeaf (DER)', () => {
  let dir: string;
  let ca: CaMaterial;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leaf-der-'));
    ca = await loadOrCreateCa(dir, 2, systemClock, cryptoRandom);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each<[string, CsrKeyType, string[], string | null | undefined]>([
    ['EC, CN and DNS names', 'P256', ['leaf.example.com', 'www.leaf.example.com'], undefined],
    ['P-384, an IPv4 and an IPv6 address', 'P384', ['ip.example.com', '192.0.2.9', '2001:db8::7'], undefined],
    ['RSA (keyEncipherment)', 'RSA2048', ['rsa.example.com'], undefined],
    ['no CN (critical SAN)', 'P256', ['nocn.example.com'], null],
  ])('%s: the TBSCertificate @peculiar/x509 wrote, and it verifies under the issuing CA', async (_name, keyType, names, commonName) => {
    const { csrPem } = await makeCsr(names, { keyType, ...(commonName === null ? { commonName: null } : {}) });
    const serialHex = '5a1b2c3d4e5f60718293a4b5c6d7e8f901';
    const notBefore = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const notAfter = new Date(Date.UTC(2051, 0, 2, 3, 4, 5)); // GeneralizedTime from 2050
    const crlUrl = 'http://127.0.0.1:14001/ext/sim/crl';
    const mine = await issueLeaf({ csr: await parseCsr(csrPem), issuer: ca.issuing, serialHex, notBefore, notAfter, crlUrl });
    expect(tbsOf(mine.der)).toBe(tbsOf(await peculiarLeaf(ca, csrPem, serialHex, notBefore, notAfter, crlUrl)));
    const cert = new X509Certificate(mine.der);
    expect(cert.verify(new X509Certificate(ca.issuing.pem).publicKey)).toBe(true);
    expect(mine.notAfter.getTime()).toBe(new Date(cert.validTo).getTime());
  });
});
