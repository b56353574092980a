// Domain objects of the gateway. These use Dates and plain ids; the RFC 8555 wire shapes live in
// http/render.ts so that a JSON field name never leaks into the domain.
import type { JWK } from 'jose';
import type { ProblemDocument } from './problems.js';

export type IdentifierType = 'dns' | 'ip';

/** An identifier exactly as the client sent it (RFC 8555 §7.1.3 — echoed verbatim, see interop item 18). */
export interface Identifier {
  type: IdentifierType;
  value: string;
}

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';
export type CertificateStatus = 'valid' | 'revoked';

export interface Account {
  id: string;
  directory: string;
  jwk: JWK;
  thumbprint: string;
  status: AccountStatus;
  contact: string[];
  termsOfServiceAgreed: boolean;
  eabKeyId: string | null;
  createdAt: Date;
}

export interface Challenge {
  id: string;
  authzId: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validatedAt: Date | null;
  error: ProblemDocument | null;
}

export interface Authorization {
  id: string;
  directory: string;
  accountId: string;
  /** The identifier being authorized: lower-case for dns, without the "*." of a wildcard (RFC 8555 §7.1.4). */
  identifier: Identifier;
  wildcard: boolean;
  status: AuthorizationStatus;
  expires: Date;
  challenges: Challenge[];
}

export interface Order {
  id: string;
  directory: string;
  accountId: string;
  status: OrderStatus;
  identifiers: Identifier[];
  authzIds: string[];
  notBefore: Date | null;
  notAfter: Date | null;
  profile: string | null;
  /** RFC 9773 §5 certID as the client sent it. */
  replaces: string | null;
  replacesCertificateId: string | null;
  expires: Date;
  error: ProblemDocument | null;
  certificateId: string | null;
  /**
   * SHA-256 (hex) of the SubjectPublicKeyInfo of the CSR the order was finalized with, stored when
   * it moves to processing; null before that, and for orders finalized before migration 006.
   */
  csrSpkiSha256: string | null;
  /** The EAB key whose policy narrowed the order (its account's, issue 9); null: the directory's policy alone. */
  eabKeyId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A certificate the PCA issued, as the gateway keeps it (pca/issued.ts assembles it, the store records it). */
export interface IssuedCertificate {
  id: string;
  /** Serial as lower-case hex without separators or sign byte. */
  serialHex: string;
  /** Serial exactly as the PCA reports it (colon hex), for revoke calls. */
  pcaSerial: string;
  leafPem: string;
  /** Leaf first, then the issuing CA(s): the body of the certificate download. */
  fullchainPem: string;
  /** SHA-256 of the leaf's SubjectPublicKeyInfo, hex: revocation by certificate key and reconciliation. */
  spkiSha256: string;
  /** base64url of the Authority Key Identifier keyId (RFC 9773 certID). */
  akiB64: string | null;
  notBefore: Date;
  notAfter: Date;
}

/** An issued certificate on record: whose it is and what became of it. */
export interface Certificate extends IssuedCertificate {
  orderId: string;
  accountId: string;
  directory: string;
  status: CertificateStatus;
  revokedAt: Date | null;
  revocationReason: number | null;
  replacedByOrderId: string | null;
  createdAt: Date;
}
