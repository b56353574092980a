import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { children, encodingOf, expectTlv, TAG } from '../../acme/der.js';
import { seq } from '../../acme/der-writer.js';
import { toPem } from '../../acme/pem.js';
import { systemClock } from '../../platform/clock.js';
import { cryptoRandom } from '../../platform/random.js';
import { x509 } from '../x509-setup.js';
import { CA_SIGN_ALG, loadOrCreateCa, type CaMaterial } from './ca.js';
import { buildCrl } from './crl.js';
import type { IssuedRecord } from './store.js';

// The simulator's CRL written as DER (crl.ts, issue 11) is the CRL @peculiar/x509's generator made
// before, byte for byte up to the signature, but for one thing: @peculiar/x509 gave every entry an
// empty crlEntryExtensions SEQUENCE, which `Extensions ::= SEQUENCE SIZE (1..MAX)` (RFC 5280 §4.1,
// §5.1) does not allow; the DER CRL leaves the field out, as OpenSSL does — with no entry, one, many (serials with the high bit set
// or leading zero octets, revocation times past 2049), another CA's revocations left out — and it
// verifies under the issuing CA, for @peculiar/x509 and for `openssl crl` alike.

/** What buildCrl made with @peculiar/x509 before issue 11, as the reference. */
async function peculiarCrl(ca: CaMaterial, records: IssuedRecord[], now: Date): Promise<Buffer> {
  const revoked = records.filter((r) => r.revokedAt !== undefined && r.issuerKeyId === ca.issuing.keyId);
  const count = revoked.length.toString(16);
  const body = Buffer.from(count.length % 2 ? `0${count}` : count, 'hex');
  const n = body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.issuing.cert.subjectName,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + 24 * 3_600_000),
    signingKey: ca.issuing.key,
    signingAlgorithm: CA_SIGN_ALG,
    extensions: [new x509.AuthorityKeyIdentifierExtension(ca.issuing.keyId), new x509.Extension('2.5.29.20', false, new Uint8Array(Buffer.concat([Buffer.from([0x02, n.length]), n])))],
    entries: revoked.map((r) => ({ serialNumber: r.serialNo.replace(/:/g, '').toLowerCase(), revocationDate: new Date(r.revokedAt!) })),
  });
  return Buffer.from(crl.rawData);
}

/**
 * The reference TBSCertList rewritten without its entries' empty crlEntryExtensions (`30 00` after
 * each entry's revocationDate), lengths adjusted: read with the DER reader, not by text search.
 */
function withoutEmptyEntryExtensions(tbsHex: string): string {
  const tbs = Buffer.from(tbsHex, 'hex');
  const fields = children(tbs, expectTlv(tbs, 0, TAG.SEQUENCE)).map((f) => encodingOf(tbs, f));
  const rewritten = fields.map((field) => {
    if (field[0] !== TAG.SEQUENCE || field.equals(fields[1]!) || field.equals(fields[2]!)) return field;
    const entries = children(field, expectTlv(field, 0, TAG.SEQUENCE));
    return seq(
      ...entries.map((e) => {
        const parts = children(field, e).map((p) => encodingOf(field, p));
        return seq(...parts.filter((p, i) => !(i === 2 && p.equals(Buffer.from([0x30, 0])))));
      }),
    );
  });
  return seq(...rewritten).toString('hex');
}

const tbsOf = (der: Buffer): string => encodingOf(der, children(der, expectTlv(der, 0, TAG.SEQUENCE))[0]!).toString('hex');

function record(serialNo: string, issuerKeyId: string, revokedAt?: number): IssuedRecord {
  return { serialNo, issuerKeyId, revokedAt, issuedAt: 0, spkiSha256: '', names: [], certPem: '' } as unknown as IssuedRecord;
}

describe('buildCrl (DER)', () => {
  let dir: string;
  let ca: CaMaterial;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crl-der-'));
    ca = await loadOrCreateCa(dir, 2, systemClock, cryptoRandom);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const now = new Date(Date.UTC(2026, 11, 2, 8, 30, 15, 678));
  const cases: Array<[string, () => IssuedRecord[]]> = [
    ['nothing revoked (no revokedCertificates field)', () => [record('01:02', ca.issuing.keyId)]],
    ['one revoked, one not', () => [record('5a:1b:2c', ca.issuing.keyId, Date.UTC(2026, 11, 1, 1, 2, 3, 999)), record('01:02', ca.issuing.keyId)]],
    [
      'many: the high bit set, leading zero octets, a time past 2049, another CA left out',
      () => [
        record('ff:00:11', ca.issuing.keyId, Date.UTC(2026, 0, 1)),
        record('00:00:7f:01', ca.issuing.keyId, Date.UTC(2051, 5, 6, 7, 8, 9)),
        record('80', ca.issuing.keyId, Date.UTC(2026, 1, 2)),
        record('12:34', 'another-ca', Date.UTC(2026, 1, 2)),
        ...Array.from({ length: 300 }, (_, i) => record(`7${i.toString(16).padStart(31, '0')}`, ca.issuing.keyId, Date.UTC(2026, 10, 1) + i * 1000)),
      ],
    ],
  ];
  it.each(cases)('%s: the TBSCertList @peculiar/x509 wrote, verified under the issuing CA', async (_name, records) => {
    const recs = records();
    const der = buildCrl(ca.issuing, recs, now);
    expect(tbsOf(der)).toBe(withoutEmptyEntryExtensions(tbsOf(await peculiarCrl(ca, recs, now))));
    const crl = new x509.X509Crl(new Uint8Array(der));
    expect(await crl.verify({ publicKey: ca.issuing.cert.publicKey })).toBe(true);
    const listed = recs.filter((r) => r.revokedAt !== undefined && r.issuerKeyId === ca.issuing.keyId).length;
    expect(crl.entries).toHaveLength(listed);
    // OpenSSL reads it and checks its signature with the issuing CA's certificate.
    writeFileSync(join(dir, 'crl.pem'), toPem('X509 CRL', new Uint8Array(der)));
    writeFileSync(join(dir, 'ca.pem'), ca.issuing.pem);
    const out = execFileSync('openssl', ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.pem'), '-noout', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toContain('Version 2');
    expect((out.match(/Serial Number:/g) ?? []).length).toBe(listed);
  });
});
