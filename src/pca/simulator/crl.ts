import { sign as cryptoSign } from 'node:crypto';
import { bits, explicit, octets, oid, seq, time, tlv, unsignedInteger } from '../../acme/der-writer.js';
import type { CaCert } from './ca.js';
import { issuerParts } from './leaf-der.js';
import type { IssuedRecord } from './store.js';

const OID_CRL_NUMBER = '2.5.29.20';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const CRL_LIFETIME_MS = 24 * 3_600_000;
const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/**
 * A CRL signed by the issuing CA listing every certificate it revoked (ncp-pca-api §3.7), as DER. No
 * reason codes: the PCA's revoke call takes none (§4.7). The CRL number is the revocation count, which
 * only grows (RFC 5280 §5.2.3).
 *
 * Written with the DER writer and signed with node:crypto, as the leaf is (leaf-der.ts): through
 * @peculiar/x509 each revoked entry cost about 0.13 ms (131 ms for 1,000, 0.67 s for 5,000), paid on
 * every revoke (the CRL is rotated after each) and, with `crlCycleMs: 0`, on every CRL read.
 * crl.test.ts checks the TBSCertList byte for byte against @peculiar/x509's.
 */
export function buildCrl(issuer: CaCert, records: IssuedRecord[], now: Date): Buffer {
  const { subject, key } = issuerParts(issuer);
  const revoked = records.filter((r) => r.revokedAt !== undefined && r.issuerKeyId === issuer.keyId);
  // RFC 5280 §5.1.2.6: revokedCertificates is absent, not empty, when nothing is revoked.
  const entries = revoked.map((r) => seq(unsignedInteger(Buffer.from(evenHex(r.serialNo.replace(/:/g, '')), 'hex')), time(new Date(r.revokedAt!))));
  const extensions = [
    // RFC 5280 §5.2.1 / §5.2.3: AKI and CRL number are required in conforming CRLs.
    seq(oid(OID_AUTHORITY_KEY_ID), octets(seq(tlv(0x80, Buffer.from(issuer.keyId, 'hex'))))),
    seq(oid(OID_CRL_NUMBER), octets(unsignedInteger(countBytes(revoked.length)))),
  ];
  const tbs = seq(
    tlv(0x02, Buffer.from([1])), // v2 (RFC 5280 §5.1.2.1: extensions present)
    ECDSA_WITH_SHA256,
    subject,
    time(now),
    time(new Date(now.getTime() + CRL_LIFETIME_MS)),
    ...(entries.length > 0 ? [seq(...entries)] : []),
    explicit(0, seq(...extensions)),
  );
  return seq(tbs, ECDSA_WITH_SHA256, bits(cryptoSign('sha256', tbs, key)));
}

const evenHex = (hex: string): string => (hex.length % 2 ? `0${hex}` : hex);

/** A non-negative safe integer's big-endian bytes (unsignedInteger adds the sign octet). */
function countBytes(n: number): Buffer {
  return Buffer.from(evenHex(n.toString(16)), 'hex');
}
