import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTERNAL_URL, readResponse, startTestGateway, type TestGateway } from '../harness.js';
import { expectAcmeHeaders, expectJson, expectProblem } from './expect.js';

// RFC 8555 §7.1.1 directory and §7.2 new-nonce; interop items 1-5.

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => t?.dispose());

describe('GET /directory', () => {
  it('answers 200 application/json with absolute URLs built from the external URL', async () => {
    const res = await readResponse(await t.request('/directory'));
    // No Replay-Nonce on the directory (interop item 4: ruby acme-client 2.0.9 crashes on one).
    expectJson(res, 200, { nonce: false });
    expect(res.body).toMatchObject({
      newNonce: `${EXTERNAL_URL}/new-nonce`,
      newAccount: `${EXTERNAL_URL}/new-account`,
      newOrder: `${EXTERNAL_URL}/new-order`,
      revokeCert: `${EXTERNAL_URL}/revoke-cert`,
      keyChange: `${EXTERNAL_URL}/key-change`,
    });
    expect(res.body).not.toHaveProperty('newAuthz');
    expect(res.body.meta.externalAccountRequired).toBe(false);
    expect(res.body.meta).not.toHaveProperty('termsOfService');
  });

  it('never builds URLs from the Host header (certbot/certbot#7481)', async () => {
    const res = await readResponse(await t.request('http://internal-host:8080/directory', { headers: { Host: 'evil.example' } }));
    expect(res.status).toBe(200);
    for (const key of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange']) {
      expect(res.body[key]).toMatch(new RegExp(`^${EXTERNAL_URL}/`));
    }
  });
});

describe('/new-nonce', () => {
  it('HEAD → 200 with Replay-Nonce and Cache-Control: no-store', async () => {
    const res = await readResponse(await t.request('/new-nonce', { method: 'HEAD' }));
    expect(res.status).toBe(200);
    expectAcmeHeaders(res);
  });

  it('GET → 204 with Replay-Nonce and Cache-Control: no-store (uacme wants exactly 204)', async () => {
    const res = await readResponse(await t.request('/new-nonce'));
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectAcmeHeaders(res);
  });

  it('hands out a different nonce every time', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await t.request('/new-nonce', { method: 'HEAD' })).headers.get('replay-nonce')!);
    expect(seen.size).toBe(20);
  });

  it('HEAD /directory carries no nonce either; a POST error does', async () => {
    expect((await t.request('/directory')).headers.get('replay-nonce')).toBeNull();
    const err = await readResponse(await t.request('/new-order', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/jose+json' } }));
    expectProblem(err, 'malformed', 400);
  });

  // RFC 8555 §7.2 defines HEAD and GET on newNonce only. The gateway has no POST route there, so a
  // POST falls through to the catch-all: 404 malformed, with a fresh nonce like every POST answer
  // (§6.5). Pinned as it is; 405 with Allow: GET, HEAD (RFC 9110 §15.5.6), or Boulder's POST-as-GET
  // → 200, would be more accurate than "no such resource" for a resource that exists.
  it('refuses POST: 404 malformed problem document, with a Replay-Nonce', async () => {
    for (const body of ['{}', '']) {
      const res = await readResponse(await t.request('/new-nonce', { method: 'POST', body, headers: { 'Content-Type': 'application/jose+json' } }));
      expectProblem(res, 'malformed', 404);
      expect(res.body.detail).toBe('no such resource: POST /new-nonce');
    }
  });
});

describe('unknown routes and plain GETs', () => {
  it('an unknown path is a 404 problem document with the ACME headers', async () => {
    const res = await readResponse(await t.request('/no-such-thing'));
    expectProblem(res, 'malformed', 404, { nonce: false });
  });

  it.each(['/new-account', '/new-order', '/order/abc', '/authz/abc', '/chall/abc', '/cert/abc', '/acct/abc', '/revoke-cert', '/key-change'])(
    'GET %s → 405 problem (resources are read with POST-as-GET)',
    async (path) => {
      const res = await readResponse(await t.request(path));
      expectProblem(res, 'malformed', 405, { nonce: false });
      expect(res.headers.get('allow')).toBe('POST');
    },
  );

  it('/livez and /readyz answer JSON on the admin listener', async () => {
    expect((await t.admin('/livez', { token: null })).status).toBe(200);
    const ready = await readResponse(await t.admin('/readyz', { token: null }));
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
  });
});
