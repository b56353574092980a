import { x509 } from '../x509-setup.js';
import { CA_SIGN_ALG, type CaCert } from './ca.js';
import type { IssuedRecord } from './store.js';

const OID_CRL_NUMBER = '2.5.29.20';
const CRL_LIFETIME_MS = 24 * 3_600_000;

/**
 * A CRL signed by the issuing CA listing every certificate it revoked (ncp-pca-api §3.7). No reason
 * codes: the PCA's revoke call takes none (§4.7). The CRL number is the revocation count, which only
 * grows (RFC 5280 §5.2.3).
 */
export async function buildCrl(issuer: CaCert, records: IssuedRecord[], now: Date): Promise<x509.X509Crl> {
  const revoked = records.filter((r) => r.revokedAt !== undefined && r.issuerKeyId === issuer.keyId);
  return x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + CRL_LIFETIME_MS),
    signingKey: issuer.key,
    signingAlgorithm: CA_SIGN_ALG,
    extensions: [
      // RFC 5280 §5.2.1 / §5.2.3: AKI and CRL number are required in conforming CRLs.
      new x509.AuthorityKeyIdentifierExtension(issuer.keyId),
      new x509.Extension(OID_CRL_NUMBER, false, derInteger(revoked.length)),
    ],
    entries: revoked.map((r) => ({ serialNumber: r.serialNo.replace(/:/g, '').toLowerCase(), revocationDate: new Date(r.revokedAt!) })),
  });
}

/** DER INTEGER for a non-negative safe integer (X.690 §8.3: two's complement, minimal octets). */
function derInteger(n: number): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x02, body.length]), body]));
}
