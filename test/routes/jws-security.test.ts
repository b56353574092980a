import { createPrivateKey, sign } from 'node:crypto';
import { exportJWK, FlattenedSign, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, b64u, EXTERNAL_URL, handmadeJws, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// The JWS checks (RFC 8555 §6.2-6.5) and the security cases of ARCHITECTURE.md §Tests.

let t: TestGateway;
let alice: AcmeTestClient;
let mallory: AcmeTestClient;
let res: { orderUrl: string; finalizeUrl: string; authzUrl: string; challengeUrl: string; certUrl: string; pendingOrderUrl: string; pendingChallengeUrl: string };

beforeAll(async () => {
  t = await startTestGateway();
  alice = await AcmeTestClient.withAccount(t);
  mallory = await AcmeTestClient.withAccount(t, 'RS256');
  const issued = await alice.issue(['alice.example.com']);
  const pending = await alice.newOrder(['alice-pending.example.com']);
  const pendingAuthz = await alice.postAsGet(pending.body.authorizations[0]);
  res = {
    orderUrl: issued.orderUrl,
    finalizeUrl: issued.order.finalize,
    authzUrl: issued.order.authorizations[0],
    challengeUrl: (await alice.postAsGet(issued.order.authorizations[0])).body.challenges[0].url,
    certUrl: issued.certUrl,
    pendingOrderUrl: pending.location!,
    pendingChallengeUrl: pendingAuthz.body.challenges[0].url,
  };
});
afterAll(async () => t?.dispose());

describe("another account's resources are 404", () => {
  it.each(['orderUrl', 'authzUrl', 'challengeUrl', 'certUrl', 'pendingOrderUrl'] as const)('POST-as-GET %s → 404', async (key) => {
    const r = await mallory.postAsGet(res[key]);
    expectProblem(r, 'malformed', 404);
    expect(r.text).not.toContain('alice');
  });

  it('cannot answer, deactivate or finalize them either', async () => {
    expectProblem(await mallory.respondChallenge(res.pendingChallengeUrl), 'malformed', 404);
    expect((await alice.postAsGet(res.pendingChallengeUrl)).body.status).toBe('pending');
    const pending = await alice.postAsGet(res.pendingOrderUrl);
    expectProblem(await mallory.post(pending.body.authorizations[0], { status: 'deactivated' }), 'malformed', 404);
    expect((await alice.postAsGet(pending.body.authorizations[0])).body.status).toBe('pending');
    expectProblem(await mallory.finalize(res.finalizeUrl, ['alice.example.com']), 'malformed', 404);
  });
});

describe('url (RFC 8555 §6.4)', () => {
  it('a url other than the request URL → 403 unauthorized', async () => {
    const jws = await alice.sign(`${EXTERNAL_URL}/order/other`, '');
    expectProblem(await alice.postRaw(res.orderUrl, jws), 'unauthorized', 403);
  });

  it('the same path on another host → 403 unauthorized', async () => {
    const jws = await alice.sign(res.orderUrl.replace(EXTERNAL_URL, 'https://evil.example'), '');
    expectProblem(await alice.postRaw(res.orderUrl, jws), 'unauthorized', 403);
  });

  it('no url → malformed', async () => {
    const r = await alice.post(res.orderUrl, '', { header: { url: undefined } });
    expectProblem(r, 'malformed', 400);
  });

  it('is compared with the external URL, not with the Host the request came in on', async () => {
    const jws = await alice.sign(res.orderUrl, '');
    const r = await alice.postRaw(res.orderUrl.replace(EXTERNAL_URL, 'http://127.0.0.1:9999'), jws);
    expectJson(r, 200);
  });
});

describe('nonces (RFC 8555 §6.5, interop item 6)', () => {
  it('a reused nonce → 400 badNonce with the detail clients grep for, and a fresh nonce', async () => {
    const nonce = await alice.nonce();
    expectJson(await alice.postAsGet(res.orderUrl, { nonce }), 200);
    const r = await alice.postAsGet(res.orderUrl, { nonce });
    expectProblem(r, 'badNonce', 400);
    expect(r.body.detail).toContain('JWS has an invalid anti-replay nonce');
    expect(r.nonce).not.toBe(nonce);
    expectJson(await alice.postAsGet(res.orderUrl, { nonce: r.nonce! }), 200); // the nonce of the error works
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not base64url', 'abc+/def=='],
    ['made up', b64u(Buffer.alloc(32, 7))],
    ['padded', 'AAAAAAAAAAAAAAAAAAAAAA=='],
    ['a number', 12345],
  ])('a %s nonce → badNonce', async (_name, nonce) => {
    const r = await alice.postAsGet(res.orderUrl, { header: { nonce } });
    expectProblem(r, 'badNonce', 400);
    expect(r.body.detail).toContain('JWS has an invalid anti-replay nonce');
  });

  it('a missing nonce is refused as such, before the signature is checked', async () => {
    const jws = await alice.sign(res.orderUrl, '', { header: { nonce: undefined } });
    const r = await alice.postRaw(res.orderUrl, { ...jws, signature: b64u(Buffer.alloc(64, 1)) });
    expectProblem(r, 'badNonce', 400);
    expect(r.body.detail).toContain('no "nonce"');
  });

  it('a request with a bad signature does not burn the nonce', async () => {
    const nonce = await alice.nonce();
    const jws = await alice.sign(res.orderUrl, '', { nonce });
    expectProblem(await alice.postRaw(res.orderUrl, { ...jws, signature: b64u(Buffer.alloc(64, 1)) }), 'malformed', 400);
    expectJson(await alice.postRaw(res.orderUrl, jws), 200);
  });

  it('a nonce used on one endpoint is refused on another', async () => {
    const nonce = await alice.nonce();
    expectJson(await alice.postAsGet(res.authzUrl, { nonce }), 200);
    expectProblem(await alice.postAsGet(res.orderUrl, { nonce }), 'badNonce', 400);
  });

  it('a nonce from another gateway (other HMAC key) → badNonce', async () => {
    const other = await startTestGateway();
    try {
      const foreign = (await other.request('/new-nonce', { method: 'HEAD' })).headers.get('replay-nonce')!;
      expectProblem(await alice.postAsGet(res.orderUrl, { nonce: foreign }), 'badNonce', 400);
    } finally {
      await other.dispose();
    }
  });
});

describe('key reference and algorithm (RFC 8555 §6.2)', () => {
  it('jwk and kid together → malformed', async () => {
    expectProblem(await alice.postAsGet(res.orderUrl, { header: { jwk: alice.key.publicJwk } }), 'malformed', 400);
    expectProblem(await alice.post(t.url('newAccount'), {}, { jwk: true, header: { kid: alice.kid } }), 'malformed', 400);
  });

  it('neither jwk nor kid → malformed', async () => {
    expectProblem(await alice.postAsGet(res.orderUrl, { header: { kid: undefined } }), 'malformed', 400);
  });

  it('jwk where an account kid is needed → malformed', async () => {
    expectProblem(await alice.postAsGet(res.orderUrl, { jwk: true }), 'malformed', 400);
  });

  it('alg "none" → badSignatureAlgorithm with the algorithms list', async () => {
    const jws = handmadeJws({ alg: 'none', nonce: await alice.nonce(), url: res.orderUrl, kid: alice.kid }, '');
    const r = await alice.postRaw(res.orderUrl, jws);
    expectProblem(r, 'badSignatureAlgorithm', 400);
    expect(r.body.algorithms).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    expect(r.body.algorithms).not.toContain('none');
  });

  it('HS256 (a MAC) → badSignatureAlgorithm with the algorithms list', async () => {
    const secret = new Uint8Array(32).fill(9);
    const header = { alg: 'HS256', nonce: await alice.nonce(), url: res.orderUrl, kid: alice.kid! };
    const jws = await new FlattenedSign(new Uint8Array()).setProtectedHeader(header).sign(secret);
    const r = await alice.postRaw(res.orderUrl, jws);
    expectProblem(r, 'badSignatureAlgorithm', 400);
    expect(r.body.algorithms).not.toContain('HS256');
    const acct = handmadeJws({ alg: 'HS256', nonce: await alice.nonce(), url: t.url('newAccount'), jwk: { kty: 'oct', k: b64u(secret) } }, {});
    expectProblem(await alice.postRaw(t.url('newAccount'), acct), 'badSignatureAlgorithm', 400);
  });

  it('an alg that does not fit the key → malformed, never 500', async () => {
    // jose refuses to sign an EC key as RS256, so relabel a valid ES256 JWS.
    const jws = await alice.sign(res.orderUrl, '');
    const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString());
    const forged = { ...jws, protected: b64u(JSON.stringify({ ...header, alg: 'RS256', nonce: await alice.nonce() })) };
    expectProblem(await alice.postRaw(res.orderUrl, forged), 'malformed', 400);
  });
});

describe('critical header parameters (RFC 7515 §4.1.11)', () => {
  it('an unknown "crit" extension → malformed, never 500', async () => {
    const header = { alg: 'ES256', nonce: await alice.nonce(), url: res.orderUrl, kid: alice.kid, crit: ['x-unknown'], 'x-unknown': 1 };
    const protectedB64 = b64u(JSON.stringify(header));
    const key = createPrivateKey({ key: (await exportJWK(alice.key.privateKey)) as never, format: 'jwk' });
    const signature = sign('sha256', Buffer.from(`${protectedB64}.`), { key, dsaEncoding: 'ieee-p1363' });
    expectProblem(await alice.postRaw(res.orderUrl, { protected: protectedB64, payload: '', signature: b64u(signature) }), 'malformed', 400);
  });
});

describe('signatures', () => {
  it('a tampered signature → malformed', async () => {
    const jws = await alice.sign(res.orderUrl, '');
    const sig = Buffer.from(jws.signature, 'base64url');
    sig[5] = sig[5]! ^ 0xff;
    expectProblem(await alice.postRaw(res.orderUrl, { ...jws, signature: b64u(sig) }), 'malformed', 400);
  });

  it('a tampered payload → malformed', async () => {
    const jws = await alice.sign(t.url('newOrder'), { identifiers: [{ type: 'dns', value: 'a.example.com' }] });
    const evil = b64u(JSON.stringify({ identifiers: [{ type: 'dns', value: 'evil.example.com' }] }));
    expectProblem(await alice.postRaw(t.url('newOrder'), { ...jws, payload: evil }), 'malformed', 400);
  });

  it("signed by another key with the account's kid → malformed", async () => {
    const r = await alice.postAsGet(res.orderUrl, { key: mallory.key });
    expectProblem(r, 'malformed', 400);
  });

  it('an unknown kid → 400 accountDoesNotExist', async () => {
    expectProblem(await alice.postAsGet(res.orderUrl, { kid: `${EXTERNAL_URL}/acct/unknown` }), 'accountDoesNotExist', 400);
    expectProblem(await alice.postAsGet(res.orderUrl, { kid: 'not a url' }), 'accountDoesNotExist', 400);
  });

  it('a kid that is not a string → malformed', async () => {
    expectProblem(await alice.postAsGet(res.orderUrl, { kid: 42 as never }), 'malformed', 400);
  });
});

describe('transport', () => {
  it.each([
    ['application/json', 'application/json'],
    ['text/plain', 'text/plain'],
    ['none', null],
  ])('Content-Type %s → 415 problem', async (_name, contentType) => {
    const jws = await alice.sign(res.orderUrl, '');
    const r = await alice.postRaw(res.orderUrl, jws, { contentType });
    expectProblem(r, 'malformed', 415);
  });

  it('Content-Type with parameters and odd case is accepted', async () => {
    const jws = await alice.sign(res.orderUrl, '');
    expectJson(await alice.postRaw(res.orderUrl, jws, { contentType: 'Application/JOSE+JSON; charset=utf-8' }), 200);
  });

  it('any or no Accept header is fine (interop item 8)', async () => {
    expectJson(await alice.postAsGet(res.orderUrl, { headers: { Accept: 'text/html' } }), 200);
  });

  const limit = 64 * 1024;
  it('a body over server.maxBodyBytes with Content-Length → 413 problem', async () => {
    const body = JSON.stringify({ protected: 'a'.repeat(limit + 10), payload: '', signature: '' });
    const r = await alice.postRaw(res.orderUrl, body, { headers: { 'Content-Length': String(Buffer.byteLength(body)) } });
    expectProblem(r, 'malformed', 413);
  });

  it('a body over the limit without Content-Length → 413 problem', async () => {
    const body = JSON.stringify({ protected: 'a'.repeat(limit + 10), payload: '', signature: '' });
    expectProblem(await alice.postRaw(res.orderUrl, body), 'malformed', 413);
  });

  it('a chunked stream over the limit → 413 problem, without reading it all', async () => {
    let sent = 0;
    const chunk = new Uint8Array(8 * 1024).fill(0x61);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 10 * limit) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const r = await alice.postRaw(res.orderUrl, stream);
    expectProblem(r, 'malformed', 413);
    expect(sent).toBeLessThan(4 * limit);
  });

  it('a body just under the limit is read (and rejected for its content, not its size)', async () => {
    const body = JSON.stringify({ protected: 'a'.repeat(limit - 200), payload: '', signature: '' });
    const r = await alice.postRaw(res.orderUrl, body);
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toBe('the JWS protected header is not valid JSON');
  });
});

describe('deactivated account', () => {
  it('is refused with 401 unauthorized on every kid endpoint (RFC 8555 §7.3.6)', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const order = await c.newOrder(['gone.example.com']);
    expectJson(await c.post(c.kid!, { status: 'deactivated' }), 200);
    for (const url of [order.location!, order.body.authorizations[0], c.kid!, `${c.kid}/orders`]) {
      expectProblem(await c.postAsGet(url), 'unauthorized', 401);
    }
  });

  it('and on the kid endpoints that take a payload, revokeCert and keyChange included', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const order = await c.newOrder(['gone-too.example.com']);
    const authz = await c.postAsGet(order.body.authorizations[0]);
    expectJson(await c.post(c.kid!, { status: 'deactivated' }), 200);
    const posts: Array<[string, unknown]> = [
      [t.url('newOrder'), { identifiers: [{ type: 'dns', value: 'x.example.com' }] }],
      [order.body.finalize, { csr: 'AAAA' }],
      [authz.body.challenges[0].url, {}],
      [order.body.authorizations[0], { status: 'deactivated' }],
      [c.kid!, { contact: ['mailto:back@example.com'] }],
      [t.url('revokeCert'), { certificate: 'AAAA' }],
      [t.url('keyChange'), { protected: 'e30', payload: '', signature: '' }],
    ];
    for (const [url, payload] of posts) expectProblem(await c.post(url, payload), 'unauthorized', 401);
  });
});

describe('accepts what real clients send', () => {
  it('a protected header with spaces and unusual member order (acme.sh, dehydrated)', async () => {
    const header = `{ "url" : "${res.orderUrl}", "kid" : "${alice.kid}", "nonce" : "${await alice.nonce()}", "alg" : "ES256" }`;
    const protectedB64 = b64u(header);
    const key = createPrivateKey({ key: (await exportJWK(alice.key.privateKey)) as never, format: 'jwk' });
    const signature = sign('sha256', Buffer.from(`${protectedB64}.`), { key, dsaEncoding: 'ieee-p1363' });
    expectJson(await alice.postRaw(res.orderUrl, { protected: protectedB64, payload: '', signature: b64u(signature) }), 200);
  });

  it.each(['ES384', 'ES512', 'PS256', 'EdDSA'] as const)('account keys signed with %s', async (alg) => {
    const pair = await generateKeyPair(alg, { extractable: true });
    const c = new AcmeTestClient(t, { alg: alg as never, privateKey: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) });
    expectJson(await c.newAccount(), 201);
    expectJson(await c.newOrder(['alg.example.com']), 201);
  });
});

