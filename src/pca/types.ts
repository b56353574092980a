import type { KeyShape } from './key-shape.js';

/** The gateway's port to a Private CA (ncp-pca-api §3). Implemented by NcpPcaClient and ResilientPcaClient. */

/** Requested validity: whole days 1..3650, or MAX = the longest the issuing CA allows (ncp-pca-api §3, §4.2). */
export type PcaPeriod = number | 'MAX';

export interface PcaSignOptions {
  period?: PcaPeriod;
  /**
   * The CA's key, sent as keyType/keyBits the way NAVER's issuer sends them (pkg/pca/pca.go: "RSA" or
   * "ECDSA" and the bits, taken from the CA certificate; not in the docs). Left out when unknown.
   */
  caKey?: KeyShape;
  signal?: AbortSignal;
}

export interface PcaSignResult {
  /** Colon-separated hex as the PCA reports it (ncp-pca-api §4.5). */
  serialNo: string;
  /** The issued end-entity certificate, normalised PEM (64-col, LF, trailing \n). */
  leafPem: string;
  /**
   * Issuing CA(s) after the leaf, issuer first; at least one entry. The root is included only when the
   * leaf is signed by the root directly, so leaf + chain always holds >= 2 certificates.
   */
  chainPems: string[];
}

export interface PcaCertInfo {
  serialNo: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  certPem: string;
  caChainPems: string[];
  /**
   * Whether the PCA says it is revoked: §3.5 documents no status field, so this is null unless the
   * answer carries one (`status` REVOKED/VALID, or a revocation date); revocation then reads the CRL.
   */
  revoked: boolean | null;
}

export interface PcaCertPage {
  serials: string[];
  totalCnt: number;
  totalPageNo: number;
  /** What the PCA says it answered; null when the answer has no currentPageNo (pca/paging.ts checks it). */
  currentPageNo: number | null;
}

/** Get CA (ncp-pca-api §3.9): what the gateway needs to know of the CA before it asks it to sign. */
export interface PcaCaInfo {
  caTag: string;
  /** caInfo.status as sent: ACTIVE, DEACTIVATED, DESTROYING (§3.9); only ACTIVE signs. */
  status: string;
  caType: string | null;
  /** caCertInfo.commonName (else the certificate's subject). */
  subject: string;
  /** caCertInfo.publicKeyAlgorithm as sent ("RSA", "EC", ...). */
  publicKeyAlgorithm: string;
  /** The CA's key as its certificate (caCertInfo.certPem) says; null without a readable certificate. */
  key: KeyShape | null;
  notBefore: Date;
  /** caCertInfo.notAfterDate (epoch ms), else the certificate's end. */
  notAfter: Date;
  certPem: string | null;
  crlUrls: string[];
  ocspUrls: string[];
}

export interface PcaClient {
  sign(csrPem: string, opts?: PcaSignOptions): Promise<PcaSignResult>;
  /** CA chain PEM blocks. */
  chain(): Promise<string[]>;
  revoke(serialNo: string): Promise<void>;
  getCert(serialNo: string): Promise<PcaCertInfo>;
  listCerts(pageNo?: number): Promise<PcaCertPage>;
  /** CRL as PEM. */
  crl(): Promise<string>;
  /** Get CA (§3.9). */
  getCa(): Promise<PcaCaInfo>;
  /** POST /ca/{caTag}/crl/rotate (§3.8): publish the CRL now. */
  rotateCrl(): Promise<void>;
}
