import { describe, expect, it } from 'vitest';
import { signatureV2 } from './signature.js';

// All vectors from ncp-pca-api §1.3.
const ak = 'ncp_iam_BPAMKR1TESTACCESSKEY';
const sk = 'ncp_iam_BPKMKR1TESTSECRETKEY0123456789';
const ts = '1700000000000';

describe('signatureV2 (ncp-pca-api §1.3)', () => {
  it('vector A: POST sign, no query', () => {
    expect(signatureV2({ method: 'POST', uri: '/api/v1/ca/4b0bbe37-eeea93b8/cert/sign', timestamp: ts, accessKey: ak, secretKey: sk })).toBe(
      'qq1/j5iI7Jyd6mHEW3jYgYOPHMQpmj7o4mNxkVc2bo8=',
    );
  });
  it('vector B: GET with a query string', () => {
    expect(signatureV2({ method: 'GET', uri: '/api/v1/ca?pageNo=2', timestamp: ts, accessKey: ak, secretKey: sk })).toBe(
      'x4fk+JV84VqCKDDTXz/5biEhskfdIyOfsA/0I5pQnl0=',
    );
  });
  it('extra: GET /api/v1/ca', () => {
    expect(signatureV2({ method: 'GET', uri: '/api/v1/ca', timestamp: Number(ts), accessKey: ak, secretKey: sk })).toBe(
      '6MCFFL1jEpxrJ0GyKFAis4mGu9eAjQ0qoO+apxg2lQ8=',
    );
  });
  it('extra: revoke with raw colons in the serial', () => {
    expect(
      signatureV2({ method: 'POST', uri: '/api/v1/ca/4b0bbe37-eeea93b8/cert/AB:CD:01/revoke', timestamp: ts, accessKey: ak, secretKey: sk }),
    ).toBe('QnWGF9ZzI5526n0iHI6dkO0IpcOmaaskuEQSa6ZAF6Y=');
  });
  it('third-party cross-check (ncloud-mcp-server)', () => {
    expect(
      signatureV2({
        method: 'GET',
        uri: '/vserver/v2/getServerInstanceList?responseFormatType=json',
        timestamp: '1234567890123',
        accessKey: 'TestAccessKey',
        secretKey: 'TestSecretKey',
      }),
    ).toBe('FPsYYX8fuMAgi+cue3eACOW0dNtIwu1LYWfg/megA2M=');
  });
  it('upper-cases the method and changes with any input', () => {
    const base = { method: 'get', uri: '/api/v1/ca', timestamp: ts, accessKey: ak, secretKey: sk };
    expect(signatureV2(base)).toBe('6MCFFL1jEpxrJ0GyKFAis4mGu9eAjQ0qoO+apxg2lQ8=');
    expect(signatureV2({ ...base, uri: '/api/v1/ca%3A' })).not.toBe(signatureV2(base));
    expect(signatureV2({ ...base, secretKey: 'other' })).not.toBe(signatureV2(base));
  });
});
