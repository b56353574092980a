/** The gateway's port to a Private CA (ncp-pca-api §3). Implemented by NcpPcaClient and ResilientPcaClient. */

/** Requested validity: whole days 1..3650, or MAX = the longest the issuing CA allows (ncp-pca-api §3, §4.2). */
export type PcaPeriod = number | 'MAX';

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
}

export interface PcaCertPage {
  serials: string[];
  totalCnt: number;
  totalPageNo: number;
  currentPageNo: number;
}

export interface PcaClient {
  sign(csrPem: string, opts?: { period?: PcaPeriod; signal?: AbortSignal }): Promise<PcaSignResult>;
  /** CA chain PEM blocks. */
  chain(): Promise<string[]>;
  revoke(serialNo: string): Promise<void>;
  getCert(serialNo: string): Promise<PcaCertInfo>;
  listCerts(pageNo?: number): Promise<PcaCertPage>;
  /** CRL as PEM. */
  crl(): Promise<string>;
}
