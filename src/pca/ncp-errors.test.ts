import { describe, expect, it } from 'vitest';
import type { PcaErrorReason } from './errors.js';
import { classifyNcpError, type NcpOperation } from './ncp-errors.js';

// The NCP code/status table (ncp-pca-api §1.3, §2): one row per rule of classifyNcpError, so that
// removing a rule fails its row.

const rows: [NcpOperation, number, string, PcaErrorReason][] = [
  // 429 and 5xx are the PCA (or its gateway) failing, whatever the code says.
  ['sign', 429, '420', 'unavailable'],
  ['sign', 503, '500', 'unavailable'],
  ['chain', 504, '510', 'unavailable'],
  ['sign', 500, 'EMPTY_CSR', 'unavailable'],
  ['revoke', 502, '', 'unavailable'],
  // Revoking twice (§3.3).
  ['revoke', 400, 'INVALID_STATUS', 'alreadyRevoked'],
  ['sign', 400, 'INVALID_STATUS', 'refused'],
  ['revoke', 409, 'INVALID_STATUS', 'refused'],
  // The CSR and the period, on sign only.
  ['sign', 400, 'EMPTY_CSR', 'csrRejected'],
  ['sign', 400, 'INVALID_INPUT', 'csrRejected'],
  ['sign', 400, 'INVALID_X509_KEY_TYPE', 'csrRejected'],
  ['sign', 400, 'EXCEED_COMMON_NAME', 'csrRejected'],
  ['getCert', 400, 'INVALID_INPUT', 'badRequest'],
  ['sign', 400, 'INVALID_INPUT_PERIOD', 'validityRejected'],
  ['sign', 400, 'EXCEED_EXPIRY_DATE', 'validityRejected'],
  ['sign', 400, 'INVALID_X509_TTL', 'validityRejected'],
  // Credentials, permissions, the clock (§1.2, §1.3).
  ['sign', 401, '200', 'authentication'],
  ['chain', 401, '210', 'authentication'],
  ['crl', 403, '230', 'authentication'],
  ['listCerts', 400, 'NOT_AUTHORIZED_ACTION', 'authentication'],
  ['sign', 400, 'UNAUTHORIZED', 'authentication'],
  // The CA.
  ['sign', 400, 'NOT_EXIST_CASTORE', 'unknownCa'],
  ['chain', 400, 'NOT_EXIST_ISSUER_CA', 'unknownCa'],
  ['sign', 404, 'NOT_FOUND', 'unknownCa'],
  ['chain', 404, '300', 'unknownCa'],
  ['listCerts', 404, 'NOT_FOUND', 'unknownCa'],
  ['getCert', 404, 'NOT_FOUND', 'certificateNotFound'],
  ['revoke', 404, 'NOT_FOUND', 'certificateNotFound'],
  ['sign', 200, 'INVALID_CA_STATUS', 'caUnusable'],
  ['sign', 400, 'INVALID_CASTORE_STATUS', 'caUnusable'],
  ['sign', 400, 'EXCEED_SIGNING_COUNT', 'caUnusable'],
  // Requests we built wrong.
  ['sign', 400, '100', 'badRequest'],
  ['sign', 413, '430', 'badRequest'],
  ['sign', 413, '', 'badRequest'],
  ['sign', 400, 'INVALID_REQUEST', 'badRequest'],
  ['revoke', 400, 'INVALID_INPUT_SERIAL_NO', 'badRequest'],
  ['listCerts', 400, 'INVALID_INPUT_PAGENUMBBER', 'badRequest'],
  // Anything else.
  ['sign', 400, 'FAIL_CORE', 'refused'],
  ['sign', 400, '', 'refused'],
  ['sign', 409, 'ALREADY_EXIST_ALIAS', 'refused'],
];

describe('classifyNcpError', () => {
  it.each(rows)('%s answered HTTP %i code %j → %s', (op, status, code, reason) => {
    expect(classifyNcpError(op, status, code)).toBe(reason);
  });
});
