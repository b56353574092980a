import { expect } from 'vitest';
import { EXTERNAL_URL, JSON_TYPE, PROBLEM_JSON, URN, type AcmeResponse } from '../harness.js';

// Shared assertions for route tests: what every ACME response must carry (interop items 4, 5, 7, 40).

const NONCE = /^[A-Za-z0-9_-]{22,}$/;

export interface HeaderExpectations {
  /**
   * Whether the response must carry a Replay-Nonce (POST responses and newNonce, the default) or
   * must not (the directory and other GETs; interop item 4).
   */
  nonce?: boolean;
  /** The directory URL of Link rel="index" (default: the default directory's; a named directory's responses name their own). */
  index?: string;
}

/** Replay-Nonce (canonical unpadded base64url, ≥ 16 bytes), Cache-Control no-store, Link rel="index". */
export function expectAcmeHeaders(res: AcmeResponse, opts: HeaderExpectations = {}): void {
  if (opts.nonce === false) {
    expect(res.nonce, 'no Replay-Nonce on a GET').toBeNull();
  } else {
    expect(res.nonce, 'Replay-Nonce').toMatch(NONCE);
    expect(Buffer.from(res.nonce!, 'base64url').toString('base64url')).toBe(res.nonce);
    expect(Buffer.from(res.nonce!, 'base64url').length).toBeGreaterThanOrEqual(16);
  }
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.links).toContainEqual({ url: opts.index ?? `${EXTERNAL_URL}/directory`, rel: 'index' });
}

/** A problem document of the given type, with `status` equal to the HTTP status, and the ACME headers. */
export function expectProblem(res: AcmeResponse, type: string, status: number, opts: HeaderExpectations = {}): void {
  const summary = `${res.status} ${res.text}`;
  expect(res.contentType, summary).toBe(PROBLEM_JSON);
  expect(res.status, summary).toBe(status);
  expect(res.body?.type, summary).toBe(URN(type));
  expect(res.body?.status, summary).toBe(status);
  expect(typeof res.body?.detail, summary).toBe('string');
  expectAcmeHeaders(res, opts);
}

/** A JSON success of the given status with the ACME headers. */
export function expectJson(res: AcmeResponse, status: number, opts: HeaderExpectations = {}): void {
  const summary = `${res.status} ${res.text}`;
  expect(res.status, summary).toBe(status);
  expect(res.contentType, summary).toBe(JSON_TYPE);
  expectAcmeHeaders(res, opts);
}

/** Never a 500, always a problem document (for the bad-input matrix). */
export function expectClientProblem(res: AcmeResponse): void {
  const summary = `${res.status} ${res.text}`;
  expect(res.status, summary).toBeGreaterThanOrEqual(400);
  expect(res.status, summary).toBeLessThan(500);
  expect(res.contentType, summary).toBe(PROBLEM_JSON);
  expect(res.body?.status, summary).toBe(res.status);
  expect(String(res.body?.type), summary).toMatch(/^urn:ietf:params:acme:error:/);
  expectAcmeHeaders(res);
}
