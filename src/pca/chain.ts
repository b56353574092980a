import type { X509Certificate as NodeX509 } from 'node:crypto';
import { PcaError } from './errors.js';
import { dedupeDer, parsePemBlocks, toPem } from '../acme/pem.js';
import { certificateFromDer, issuedBy } from '../acme/x509-cache.js';
import { issuedByDer, readCertDer, type CertDer } from '../acme/cert-der.js';

interface Candidate {
  der: Buffer;
  node: NodeX509;
}

/** Per certificate object (CA certificates are parsed once and cached: acme/x509-cache.ts), so asked once. */
const selfIssued = new WeakMap<NodeX509, boolean>();
const isSelfIssued = (c: Candidate): boolean => {
  let self = selfIssued.get(c.node);
  if (self === undefined) selfIssued.set(c.node, (self = c.node.subject === c.node.issuer && c.node.checkIssued(c.node)));
  return self;
};

/**
 * Orders the CA certificates that came with a leaf into the chain a TLS server sends: issuer first,
 * each next one issuing the previous. The PCA's caChain order and completeness are undocumented
 * (ncp-pca-api §4.3), so links are found by name match (node checkIssued, which also compares AKI/SKI)
 * plus a signature check, never by position. The root is kept only when it issued the leaf directly,
 * so the result always holds at least one CA certificate.
 */
export async function buildIssuerChain(leafPem: string, caPems: string[]): Promise<string[]> {
  const leafDer = parsePemBlocks(leafPem, 'CERTIFICATE')[0]?.der;
  if (!leafDer) throw new PcaError('malformed', 'PCA response: certificate is not a PEM certificate');
  // The leaf is new with every issuance: read by DER (acme/cert-der.ts), with OpenSSL's parse only
  // when the DER reading cannot decide a link (issue 11: a parse is ~0.1 ms).
  let leafCert: CertDer | null = null;
  try {
    leafCert = readCertDer(leafDer);
  } catch {
    leafCert = null;
  }
  let leafNode: Candidate | undefined;
  const leafX509 = (): Candidate | undefined => (leafNode ??= load(leafDer));
  if (!leafCert && !leafX509()) throw new PcaError('malformed', 'PCA response: certificate does not parse');
  const issuedTheLeaf = (c: Candidate): boolean => {
    const verdict = leafCert ? issuedByDer(leafCert, c.node) : 'unknown';
    if (verdict !== 'unknown') return verdict;
    const leaf = leafX509();
    return !!leaf && issuedBy(leaf.node, c.node);
  };

  const candidates: Candidate[] = [];
  for (const der of dedupeDer(caPems.flatMap((p) => parsePemBlocks(p, 'CERTIFICATE').map((b) => b.der)))) {
    if (der.equals(leafDer)) continue;
    const c = load(der);
    if (c) candidates.push(c);
  }

  const chain: Candidate[] = [];
  let issuer = candidates.find(issuedTheLeaf);
  // Bounded by the candidate count, so a loop of cross-signed certificates cannot spin forever.
  while (issuer) {
    if (isSelfIssued(issuer)) {
      if (chain.length === 0) chain.push(issuer);
      break;
    }
    chain.push(issuer);
    if (chain.length >= candidates.length) break;
    issuer = findIssuer(issuer, candidates.filter((c) => !chain.includes(c)));
  }
  if (chain.length === 0) throw new PcaError('malformed', 'PCA response: no CA certificate in caChain/issuer issued the leaf');
  return chain.map((c) => toPem('CERTIFICATE', c.der));
}

function load(der: Buffer): Candidate | undefined {
  try {
    // Through the cache: the PCA sends the same CA certificates with every leaf, and the issued
    // check reads this leaf again right after (acme/x509-cache.ts).
    return { der, node: certificateFromDer(der) };
  } catch {
    return undefined;
  }
}

/** node:crypto does both checks synchronously, without a second parse through WebCrypto (bench: ~3.7 ms/order saved). */
function findIssuer(child: Candidate, pool: Candidate[]): Candidate | undefined {
  return pool.find((c) => issuedBy(child.node, c.node));
}
