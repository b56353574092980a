import type { PcaErrorReason } from './errors.js';

// What the NCP PCA's answers mean (ncp-pca-api §1.3 gateway table, §2 envelope codes). The HTTP
// status each PCA code comes with is undocumented (§4.8), so the codes decide where they are
// specific, and the status only where no code does. This is the only place that reads NCP codes.

/** The PCA operations the client makes; what a code means can depend on it. */
export type NcpOperation = 'sign' | 'chain' | 'revoke' | 'getCert' | 'listCerts' | 'crl' | 'getCa' | 'rotateCrl';

/** §2: the CSR itself is refused (the simulator answers INVALID_INPUT for a CSR that does not parse). */
const CSR_CODES = new Set([
  'EMPTY_CSR',
  'INVALID_INPUT',
  'INVALID_INPUT_CERT',
  'INVALID_X509_KEY_TYPE',
  'INVALID_X509_IP',
  'INVALID_X509_URI',
  'INVALID_X509_OTHER',
  'INVALID_X509_KEY_USAGE',
  'INVALID_X509_EXTENDED_KEY_USAGE',
  'EXCEED_COMMON_NAME',
]);

/** §2, §4.2: the requested period does not fit the CA. */
const VALIDITY_CODES = new Set(['INVALID_INPUT_PERIOD', 'EXCEED_EXPIRY_DATE', 'INVALID_X509_TTL']);

/** §1.3 gateway errorCodes 200 (authentication failed, stale timestamp), 210 (permission denied), 230 (forbidden); §2 codes. */
const AUTH_CODES = new Set([
  '200',
  '210',
  '230',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_AUTHORIZED_REQUEST',
  'NOT_AUTHORIZED_ACTION',
  'EMPTY_AUTH_TOKEN',
  'EMPTY_ACCESS_TOKEN',
  'INVAILD_ACCESS_TOKEN',
  'INVAILD_ACCESS_TOKEN_TTL',
]);

/** §2: the CA named by caTag does not exist. */
const UNKNOWN_CA_CODES = new Set(['NOT_EXIST_CASTORE', 'NOT_EXIST_ISSUER_CA']);

/** §2, §3.12: the CA exists but does not sign (DEACTIVATED, DESTROYING) or has used up its signing count. */
const CA_UNUSABLE_CODES = new Set(['INVALID_CA_STATUS', 'INVALID_CASTORE_STATUS', 'EXCEED_SIGNING_COUNT']);

/** §1.3 gateway 100 (bad request) and 430 (entity too large); §2 codes for a request we built wrong. */
const BAD_REQUEST_CODES = new Set([
  '100',
  '430',
  'INVALID_REQUEST',
  'INVALID_PATH',
  'INVALID_INPUT',
  'INVALID_INPUT_SERIAL_NO',
  'INVALID_INPUT_PAGENUMBBER',
  'EMPTY_SERIAL_NO',
  'EMPTY_CA_ID',
]);

/** Classifies one error answer (non-2xx, or a 2xx envelope whose code is not SUCCESS). */
export function classifyNcpError(op: NcpOperation, httpStatus: number, code: string): PcaErrorReason {
  // §1.3: 429 quota/throttle/rate limits, 503/504 endpoint errors; a 5xx is the PCA failing, whatever its code.
  if (httpStatus === 429 || httpStatus >= 500) return 'unavailable';
  // §3.3: revoking twice answers INVALID_STATUS (the certificate's status forbids it): it is revoked.
  if (op === 'revoke' && httpStatus === 400 && code === 'INVALID_STATUS') return 'alreadyRevoked';
  if (op === 'sign' && CSR_CODES.has(code)) return 'csrRejected';
  if (op === 'sign' && VALIDITY_CODES.has(code)) return 'validityRejected';
  if (httpStatus === 401 || httpStatus === 403 || AUTH_CODES.has(code)) return 'authentication';
  if (UNKNOWN_CA_CODES.has(code)) return 'unknownCa';
  if (CA_UNUSABLE_CODES.has(code)) return 'caUnusable';
  // A 404 on /ca/{caTag}/cert/{serial} may mean either the serial or the CA (both answer NOT_FOUND).
  if (httpStatus === 404) return op === 'getCert' || op === 'revoke' ? 'certificateNotFound' : 'unknownCa';
  if (httpStatus === 413 || BAD_REQUEST_CODES.has(code)) return 'badRequest';
  return 'refused';
}
