import { X509Certificate } from 'node:crypto';
import { factsOf, type IssuedFacts } from '../acme/issued-check.js';
import type { IssuedCertificate } from '../acme/types.js';

// Certificate assembly: what the gateway keeps of a certificate the PCA issued, in the form it
// serves it (RFC 8555 §7.4.2: application/pem-certificate-chain, leaf first, then its issuers).

/** A certificate the PCA issued, ready to store. */
export type AssembledCertificate = IssuedCertificate;

/**
 * Assembles leaf and chain; null when the leaf cannot be parsed. `facts` are the leaf's as the
 * issued-certificate check already read them, so the leaf is not parsed a second time.
 */
export function issuedCertificate(leafPem: string, chainPems: string[], pcaSerial: string, id: string, facts?: IssuedFacts): AssembledCertificate | null {
  let f = facts;
  if (!f) {
    try {
      f = factsOf(new X509Certificate(leafPem));
    } catch {
      return null;
    }
  }
  return {
    id,
    serialHex: f.serialHex,
    pcaSerial,
    leafPem: normalizePem(leafPem),
    fullchainPem: [leafPem, ...chainPems].map(normalizePem).join(''),
    spkiSha256: f.spkiSha256,
    akiB64: f.akiB64,
    notBefore: f.notBefore,
    notAfter: f.notAfter,
  };
}

/** PEM with LF line ends and exactly one trailing newline (interop item 32). */
export function normalizePem(pem: string): string {
  return `${pem.replace(/\r\n/g, '\n').trim()}\n`;
}
