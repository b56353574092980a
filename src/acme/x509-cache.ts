import { X509Certificate } from 'node:crypto';
import { parsePemBlocks } from './pem.js';

// Certificates parsed once, signatures checked once. Every issuance brings the PCA's CA
// certificates again, and its leaf is read twice: by the chain builder (pca/chain.ts) and by the
// "never serve a wrong certificate" check (issued-check.ts). Before this cache an order parsed the
// leaf twice and each CA certificate twice, and verified the same CA-to-CA signatures on every
// issuance (issue 11, bench/RESULTS.md). A parse is a pure function of the DER and a verified
// signature stays verified, so caching them changes no answer.

/** Distinct certificates kept: the CA certificates of a few PCAs plus the leaves being checked now. */
const CAPACITY = 64;
const parsed = new Map<string, X509Certificate>();
/** child → the certificates whose key verified child's signature (only successes are kept). */
const signedBy = new WeakMap<X509Certificate, WeakSet<X509Certificate>>();

/** The parsed certificate of this DER (throws as X509Certificate does when it does not parse). */
export function certificateFromDer(der: Buffer): X509Certificate {
  const key = der.toString('base64');
  let cert = parsed.get(key);
  if (cert) {
    parsed.delete(key); // least recently used goes first
  } else {
    cert = new X509Certificate(der);
    if (parsed.size >= CAPACITY) parsed.delete(parsed.keys().next().value!);
  }
  parsed.set(key, cert);
  return cert;
}

/** The first CERTIFICATE block of a PEM text, parsed (text without one is parsed as given: X509Certificate decides). */
export function certificateFromPem(pem: string): X509Certificate {
  const der = parsePemBlocks(pem, 'CERTIFICATE')[0]?.der;
  return der ? certificateFromDer(der) : new X509Certificate(pem);
}

/** child names parent as its issuer (names and AKI/SKI, node checkIssued) and parent's key verifies its signature. */
export function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  if (signedBy.get(child)?.has(parent)) return true;
  if (!child.checkIssued(parent)) return false;
  let ok = false;
  try {
    ok = child.verify(parent.publicKey);
  } catch {
    ok = false; // an unsupported or broken key is simply not the issuer
  }
  if (ok) {
    let set = signedBy.get(child);
    if (!set) signedBy.set(child, (set = new WeakSet()));
    set.add(parent);
  }
  return ok;
}
