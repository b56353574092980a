import { AcmeProblem } from '../acme/problems.js';
import { PcaError } from '../pca/errors.js';

// Each PCA failure becomes a problem a user can act on, naming the PCA's code and message (never
// credentials). The codes come from ncp-pca-api §2; their HTTP statuses are partly assumptions (§4.8).

const CSR_CODES = new Set(['EMPTY_CSR', 'INVALID_INPUT', 'INVALID_INPUT_CERT', 'INVALID_X509_KEY_TYPE', 'INVALID_X509_IP', 'INVALID_X509_URI', 'INVALID_X509_OTHER', 'INVALID_X509_KEY_USAGE', 'INVALID_X509_EXTENDED_KEY_USAGE', 'EXCEED_COMMON_NAME']);
const VALIDITY_CODES = new Set(['INVALID_INPUT_PERIOD', 'EXCEED_EXPIRY_DATE', 'INVALID_X509_TTL']);

export function describePcaError(err: PcaError): string {
  const parts = [err.kind === 'http' ? `HTTP ${err.httpStatus}` : err.kind];
  if (err.code) parts.push(`code ${err.code}`);
  if (err.pcaMessage) parts.push(JSON.stringify(err.pcaMessage.slice(0, 200)));
  return parts.join(', ');
}

export function problemFromPcaError(err: unknown): AcmeProblem {
  if (!(err instanceof PcaError)) return new AcmeProblem('serverInternal', 'issuance failed unexpectedly; see the gateway log');
  const what = describePcaError(err);
  if (err.code && CSR_CODES.has(err.code)) return new AcmeProblem('badCSR', `the Private CA refused the CSR (${what})`);
  if (err.code && VALIDITY_CODES.has(err.code)) {
    return new AcmeProblem('malformed', `the Private CA refused the requested validity (${what}); ask for a shorter notAfter`);
  }
  if (err.httpStatus === 401 || err.httpStatus === 403) {
    return new AcmeProblem('serverInternal', `the Private CA refused the gateway's credentials (${what}); the operator must check pca.accessKey/secretKey and the clock`);
  }
  if (err.httpStatus === 404) return new AcmeProblem('serverInternal', `the Private CA does not know the configured CA (${what}); check pca.caTag`);
  if (err.retryable) return new AcmeProblem('serverInternal', `the Private CA did not issue in time (${what}); try again later`);
  return new AcmeProblem('serverInternal', `the Private CA refused to issue (${what})`);
}
