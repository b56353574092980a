import type { X509Certificate } from 'node:crypto';
import { certificateNameKeys, nameKeysOf, spkiSha256Hex } from './csr.js';
import { certAuthorityKeyIdB64, certNames, issuedByDer, readCertDer, type CertDer } from './cert-der.js';
import { parsePemBlocks } from './pem.js';
import { identifierKey } from './identifiers.js';
import { isCanonicalSpki, spkiOfCertificate } from './spki.js';
import type { Identifier } from './types.js';
import { certificateFromPem, issuedBy } from './x509-cache.js';

// "Never serve a wrong certificate": what the PCA returned must be for the CSR's key, name exactly
// the order's identifiers, chain to the configured trust anchor and be valid now.

/**
 * How far a leaf's notBefore may lie ahead of our clock. The PCA refuses requests whose timestamp is
 * more than 5 minutes off its own clock (ncp-pca-api §1.2), so a leaf it signed just now cannot
 * begin later than that unless the PCA post-dated it.
 */
const NOT_BEFORE_SKEW_MS = 5 * 60_000;

export interface IssuedFacts {
  serialHex: string;
  spkiSha256: string;
  akiB64: string | null;
  notBefore: Date;
  notAfter: Date;
}

/**
 * SHA-256 of the certificate key's SPKI in the canonical form OpenSSL exports. The bytes are taken
 * from the certificate as they are when they are already that form (RSA, or ECDSA with a named
 * curve: acme/spki.ts writes them back identically), which spares OpenSSL's export (~0.1 ms).
 */
export function spkiSha256OfCert(cert: X509Certificate): string {
  try {
    const raw = spkiOfCertificate(cert.raw);
    if (isCanonicalSpki(raw)) return spkiSha256Hex(raw);
  } catch {
    // Not read by hand: OpenSSL's export decides, below.
  }
  return spkiSha256Hex(cert.publicKey.export({ format: 'der', type: 'spki' }));
}

/** The serial as lower-case hex without leading zero bytes (the DER sign byte). */
export function normalizeSerialHex(hex: string): string {
  const clean = hex.replace(/[^0-9a-fA-F]/g, '').toLowerCase().replace(/^(00)+/, '');
  return clean === '' ? '0' : clean;
}

/** base64url of the AKI keyIdentifier (RFC 9773 §4.1), read from the DER. */
export function authorityKeyIdB64(cert: X509Certificate): string | null {
  const der = cert.raw;
  // OID 2.5.29.35 (authorityKeyIdentifier): 06 03 55 1D 23
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]);
  const at = der.indexOf(oid);
  if (at < 0) return null;
  let p = at + oid.length;
  if (der[p] === 0x01) p += 3; // critical BOOLEAN
  if (der[p] !== 0x04) return null; // extnValue OCTET STRING
  p += 1 + lengthBytes(der, p + 1);
  if (der[p] !== 0x30) return null; // AuthorityKeyIdentifier SEQUENCE
  p += 1 + lengthBytes(der, p + 1);
  if (der[p] !== 0x80) return null; // [0] keyIdentifier
  const len = der[p + 1]!;
  return der.subarray(p + 2, p + 2 + len).toString('base64url');
}

function lengthBytes(der: Buffer, p: number): number {
  const first = der[p]!;
  return first < 0x80 ? 1 : 1 + (first & 0x7f);
}

export function factsOf(leaf: X509Certificate): IssuedFacts {
  return {
    serialHex: normalizeSerialHex(leaf.serialNumber),
    spkiSha256: spkiSha256OfCert(leaf),
    akiB64: authorityKeyIdB64(leaf),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

/** The verdict; `facts` whenever the leaf parsed, so the caller need not parse it again. */
export type IssuedCheck = { ok: true; facts: IssuedFacts } | { ok: false; reason: string; facts?: IssuedFacts };

export function checkIssued(
  leafPem: string,
  chainPems: string[],
  expected: { spkiSha256: string; identifiers: Identifier[] },
  trustAnchors: X509Certificate[],
  now: Date,
): IssuedCheck {
  const unparsable = 'the PCA returned a certificate that cannot be parsed';
  // The leaf is read by DER (acme/cert-der.ts); OpenSSL parses it only where that reading cannot
  // decide (an SPKI or a link outside what it reads). The CA certificates go through the cache: the
  // chain builder (pca/chain.ts) has just read them and verified their links (acme/x509-cache.ts).
  const byDer = leafByDer(leafPem);
  let leafNode: X509Certificate | undefined;
  const leafX509 = (): X509Certificate => (leafNode ??= certificateFromPem(leafPem));
  let facts: IssuedFacts;
  if (byDer) facts = byDer.facts;
  else {
    try {
      facts = factsOf(leafX509());
    } catch {
      return { ok: false, reason: unparsable };
    }
  }
  const refuse = (reason: string): IssuedCheck => ({ ok: false, reason, facts });
  let chain: X509Certificate[];
  try {
    chain = chainPems.map((p) => certificateFromPem(p));
  } catch {
    return refuse(unparsable);
  }
  if (facts.spkiSha256 !== expected.spkiSha256) return refuse("the issued certificate's public key is not the CSR's");
  const want = new Set(expected.identifiers.map(identifierKey));
  const got = new Set(byDer ? nameKeysOf(certNames(byDer.cert)) : certificateNameKeys(leafX509()));
  const same = want.size === got.size && [...want].every((k) => got.has(k));
  if (!same) return refuse(`the issued certificate names [${[...got].join(', ')}], not the order's [${[...want].join(', ')}]`);
  if (chain.length === 0) return refuse('the PCA returned no issuing CA certificate');
  let first = byDer ? issuedByDer(byDer.cert, chain[0]!) : 'unknown';
  if (first === 'unknown') {
    try {
      first = issuedBy(leafX509(), chain[0]!);
    } catch {
      return refuse(unparsable);
    }
  }
  if (!first) return refuse('certificate 0 of the chain is not signed by certificate 1');
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i]!, chain[i + 1]!)) {
      return refuse(`certificate ${i + 1} of the chain is not signed by certificate ${i + 2}`);
    }
  }
  const top = chain[chain.length - 1]!;
  const anchored = trustAnchors.some(
    (anchor) => anchor.fingerprint256 === top.fingerprint256 || issuedBy(top, anchor),
  );
  if (!anchored) return refuse('the chain does not lead to the configured trust anchor');
  if (facts.notAfter.getTime() <= now.getTime()) return refuse('the issued certificate is already expired');
  if (facts.notBefore.getTime() > now.getTime() + NOT_BEFORE_SKEW_MS) return refuse('the issued certificate is not valid yet');
  return { ok: true, facts };
}

/** The leaf and its facts read by DER, or null when it is not readable that way (OpenSSL's parse then decides). */
function leafByDer(leafPem: string): { cert: CertDer; facts: IssuedFacts } | null {
  try {
    const der = parsePemBlocks(leafPem, 'CERTIFICATE')[0]?.der;
    if (!der) return null;
    const cert = readCertDer(der);
    // The SPKI hash is of OpenSSL's canonical form (spkiSha256OfCert): taken as is only when it is that form.
    if (!isCanonicalSpki(cert.spki)) return null;
    return {
      cert,
      facts: {
        serialHex: normalizeSerialHex(cert.serialHex),
        spkiSha256: spkiSha256Hex(cert.spki),
        akiB64: certAuthorityKeyIdB64(cert),
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
      },
    };
  } catch {
    return null;
  }
}
