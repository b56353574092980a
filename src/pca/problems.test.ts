import { describe, expect, it } from 'vitest';
import { ACME_ERROR_PREFIX } from '../acme/problems.js';
import { PcaError, type PcaErrorReason } from './errors.js';
import { describePcaError, problemFromPcaError } from './problems.js';

// The one translator: every reason, for issuance and for revocation, gives the problem type a client
// can act on and a detail that names the PCA's code and message.

const answer = (reason: PcaErrorReason, httpStatus = 400, code = 'SOME_CODE'): PcaError =>
  new PcaError('http', `PCA answered HTTP ${httpStatus} ${code}`, { httpStatus, code, pcaMessage: 'the pca says no.', reason });

const ALL: PcaErrorReason[] = [
  'alreadyRevoked',
  'csrRejected',
  'validityRejected',
  'authentication',
  'unknownCa',
  'certificateNotFound',
  'caUnusable',
  'unavailable',
  'badResponse',
  'badRequest',
  'refused',
];

describe('problemFromPcaError (issuance)', () => {
  it.each<[PcaErrorReason, string, RegExp]>([
    ['csrRejected', 'badCSR', /^the Private CA refused the CSR \(/],
    ['validityRejected', 'malformed', /refused the requested validity .*; ask for a shorter notAfter$/],
    ['authentication', 'serverInternal', /refused the gateway's credentials .*; the operator must check pca\.accessKey\/secretKey and the clock$/],
    ['unknownCa', 'serverInternal', /does not know the configured CA .*; check pca\.caTag$/],
    ['certificateNotFound', 'serverInternal', /does not know the configured CA or a certificate it listed .*; check pca\.caTag$/],
    ['caUnusable', 'serverInternal', /cannot sign now .*the operator must check the CA$/],
    ['unavailable', 'serverInternal', /^the Private CA did not issue in time \(.*\); try again later$/],
    ['badResponse', 'serverInternal', /its answer could not be used .*; try again later$/],
    ['badRequest', 'serverInternal', /the gateway's request was invalid/],
    ['alreadyRevoked', 'serverInternal', /^the Private CA refused to issue \(/],
    ['refused', 'serverInternal', /^the Private CA refused to issue \([^)]*\)$/],
  ])('%s → %s', (reason, type, detail) => {
    const p = problemFromPcaError(answer(reason));
    expect(p.type).toBe(type);
    expect(p.detail).toMatch(detail);
    expect(p.detail).toContain('(HTTP 400, code SOME_CODE, "the pca says no.")');
  });

  it('names the kind when there was no answer', () => {
    const p = problemFromPcaError(new PcaError('timeout', 'PCA POST timed out after 30000 ms'));
    expect(p.toDocument()).toMatchObject({ type: `${ACME_ERROR_PREFIX}serverInternal`, status: 500 });
    expect(p.detail).toBe('the Private CA did not issue in time (timeout); try again later');
    expect(problemFromPcaError(new PcaError('circuitOpen', 'open')).detail).toBe('the Private CA did not issue in time (circuitOpen); try again later');
  });

  it('anything that is not a PcaError gets a generic detail (its text goes to the log only)', () => {
    const p = problemFromPcaError(new Error('secret internals'));
    expect(p.type).toBe('serverInternal');
    expect(p.detail).toBe('issuance failed unexpectedly; see the gateway log');
  });
});

describe('problemFromPcaError (revocation)', () => {
  it.each(ALL)('%s: "did not revoke", with the PCA code and message', (reason) => {
    const p = problemFromPcaError(answer(reason), 'revoke');
    expect(p.type).toBe(reason === 'alreadyRevoked' ? 'alreadyRevoked' : 'serverInternal');
    expect(p.detail.startsWith('the Private CA did not revoke the certificate (HTTP 400, code SOME_CODE, "the pca says no.")')).toBe(true);
  });

  it('says what to do where the reason tells', () => {
    expect(problemFromPcaError(answer('unavailable', 503), 'revoke').detail).toMatch(/\); try again$/);
    expect(problemFromPcaError(answer('authentication', 401), 'revoke').detail).toMatch(/pca\.accessKey\/secretKey and the clock$/);
    expect(problemFromPcaError(answer('unknownCa', 404), 'revoke').detail).toMatch(/check pca\.caTag$/);
    expect(problemFromPcaError(answer('certificateNotFound', 404), 'revoke').detail).toMatch(/no such certificate.*check pca\.caTag$/);
    expect(problemFromPcaError(new Error('x'), 'revoke').detail).toBe('the Private CA did not revoke the certificate (error); try again');
  });
});

describe('describePcaError', () => {
  it('status, code and the quoted message, cut at 200 characters', () => {
    expect(describePcaError(new PcaError('http', 'x', { httpStatus: 401, code: '200', pcaMessage: 'Authentication Failed' }))).toBe('HTTP 401, code 200, "Authentication Failed"');
    expect(describePcaError(new PcaError('network', 'x'))).toBe('network');
    expect(describePcaError(new PcaError('http', 'x', { httpStatus: 400, pcaMessage: 'm'.repeat(300) }))).toBe(`HTTP 400, "${'m'.repeat(200)}"`);
  });
});

describe('PcaError reasons without a classifying client', () => {
  it('follow the kind: no answer is unavailable, a refused request is badRequest, a garbled answer badResponse', () => {
    expect(new PcaError('timeout', 'x').reason).toBe('unavailable');
    expect(new PcaError('network', 'x').reason).toBe('unavailable');
    expect(new PcaError('circuitOpen', 'x').reason).toBe('unavailable');
    expect(new PcaError('malformed', 'x').reason).toBe('badResponse');
    expect(new PcaError('malformed', 'x', { retryable: false }).reason).toBe('badRequest');
    expect(new PcaError('http', 'x', { httpStatus: 429 }).reason).toBe('unavailable');
    expect(new PcaError('http', 'x', { httpStatus: 500 }).reason).toBe('unavailable');
    expect(new PcaError('http', 'x', { httpStatus: 400 }).reason).toBe('refused');
    expect(new PcaError('http', 'x', { httpStatus: 400, reason: 'csrRejected' }).reason).toBe('csrRejected');
  });
});
