import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcmeTestClient,
  b64u,
  EXTERNAL_URL,
  generateAccountKey,
  handmadeJws,
  type AccountKey,
  type FlattenedJwsBody,
  type SignOptions,
  startTestGateway,
  type TestGateway,
} from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// Account key rollover, RFC 8555 §7.3.5 (auth/key-rollover.ts, services/key-change.ts): one case per
// rule of the inner JWS, each also checking that the account kept its key. The happy path and the
// basic refusals are in accounts.test.ts too.

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => t?.dispose());

interface InnerOptions {
  /** The inner payload (default: this account and its current key). */
  payload?: unknown;
  /** Options for signing the inner JWS (default: jwk of the new key, no nonce). */
  sign?: SignOptions;
  /** Changes the signed inner JWS before it is sent. */
  tamper?: (jws: FlattenedJwsBody) => FlattenedJwsBody;
}

async function innerJws(c: AcmeTestClient, newKey: AccountKey, opts: InnerOptions = {}): Promise<FlattenedJwsBody> {
  const url = t.url('keyChange');
  const payload = opts.payload ?? { account: c.kid, oldKey: c.key.publicJwk };
  const inner = await c.sign(url, payload, { jwk: true, key: newKey, ...opts.sign, header: { nonce: undefined, ...opts.sign?.header } });
  return opts.tamper ? opts.tamper(inner) : inner;
}

async function rollover(c: AcmeTestClient, newKey: AccountKey, opts: InnerOptions = {}) {
  return c.post(t.url('keyChange'), await innerJws(c, newKey, opts));
}

/** The account still answers to its old key, and not to `newKey`. */
async function expectKeyUnchanged(c: AcmeTestClient, newKey: AccountKey): Promise<void> {
  expectJson(await c.postAsGet(c.kid!), 200);
  expectProblem(await c.postAsGet(c.kid!, { key: newKey }), 'malformed', 400);
}

describe('key change: the happy path', () => {
  it('rolls over to the new key (inner JWS without a nonce, interop item 39), and only once', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const oldKey = c.key;
    const newKey = await generateAccountKey('ES256');
    const inner = await innerJws(c, newKey);
    expectJson(await c.post(t.url('keyChange'), inner), 200);
    c.key = newKey;
    expectJson(await c.postAsGet(c.kid!), 200);
    // The same inner JWS again, under the new key: oldKey is no longer the current key.
    expectProblem(await c.post(t.url('keyChange'), inner), 'unauthorized', 403);
    expectProblem(await c.postAsGet(c.kid!, { key: oldKey }), 'malformed', 400);
  });

  it('an inner JWS that carries a nonce is fine too', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey('RS256');
    expectJson(await rollover(c, newKey, { sign: { header: { nonce: await c.nonce() } } }), 200);
  });
});

describe('key change: the inner JWS signature', () => {
  it('an inner payload changed after signing → malformed, key unchanged', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const r = await rollover(c, newKey, {
      tamper: (jws) => ({ ...jws, payload: b64u(JSON.stringify({ account: c.kid, oldKey: c.key.publicJwk, extra: 1 })) }),
    });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/does not verify/);
    await expectKeyUnchanged(c, newKey);
  });

  it('signed by another key than the inner "jwk" → malformed, key unchanged', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const other = await generateAccountKey();
    const r = await rollover(c, newKey, { sign: { key: other, header: { jwk: newKey.publicJwk } } });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/does not verify/);
    await expectKeyUnchanged(c, newKey);
  });

  it('an inner alg outside the allow-list → badSignatureAlgorithm, before any other inner check', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    // HS256 MAC'd with a made-up key, no jwk and a wrong url: the algorithm is what is refused.
    const inner = handmadeJws({ alg: 'HS256', url: t.url('newOrder') }, { account: c.kid, oldKey: c.key.publicJwk }, (input) =>
      createHmac('sha256', 'k').update(input).digest(),
    );
    const r = await c.post(t.url('keyChange'), inner);
    expectProblem(r, 'badSignatureAlgorithm', 400);
    expect(r.body.algorithms).toContain('ES256');
    expect(r.body.algorithms).not.toContain('HS256');
    await expectKeyUnchanged(c, newKey);
  });

  it('a new key the gateway does not take (RSA-1024) → badPublicKey', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const header = { alg: 'RS256', url: t.url('keyChange'), jwk: pair.publicKey.export({ format: 'jwk' }) };
    const inner = handmadeJws(header, { account: c.kid, oldKey: c.key.publicJwk }, (input) => sign('sha256', input, pair.privateKey));
    expectProblem(await c.post(t.url('keyChange'), inner), 'badPublicKey', 400);
    expectJson(await c.postAsGet(c.kid!), 200);
  });
});

describe('key change: the inner header', () => {
  it('an inner url other than the keyChange URL → malformed (not unauthorized: the account did sign), key unchanged', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    for (const url of [t.url('newAccount'), c.kid!, `${t.url('keyChange')}/`, t.url('keyChange').replace(EXTERNAL_URL, 'https://evil.example')]) {
      const r = await rollover(c, newKey, { sign: { header: { url } } });
      expectProblem(r, 'malformed', 400);
      expect(r.body.detail).toMatch(/inner JWS "url" must be the keyChange URL/);
    }
    const r = await rollover(c, newKey, { sign: { header: { url: undefined } } });
    expectProblem(r, 'malformed', 400);
    await expectKeyUnchanged(c, newKey);
  });

  it('an inner JWS with "kid" instead of "jwk" → malformed, key unchanged', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const r = await rollover(c, newKey, { sign: { jwk: false, kid: c.kid! } });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/signed with a "jwk" header/);
    await expectKeyUnchanged(c, newKey);
  });

  it('an inner JWS with both "jwk" and "kid" → malformed, key unchanged', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const r = await rollover(c, newKey, { sign: { header: { kid: c.kid } } });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/both "jwk" and "kid"/);
    await expectKeyUnchanged(c, newKey);
  });

  it('an inner JWS with neither → malformed', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const r = await rollover(c, newKey, { sign: { header: { jwk: undefined } } });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/must contain "jwk" or "kid"/);
    await expectKeyUnchanged(c, newKey);
  });
});

describe('key change: the inner payload', () => {
  it('"account" not the signing account → malformed, neither account changes', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const victim = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    // c signs the outer JWS, but the inner one names the victim (with the victim's key as oldKey).
    const r = await rollover(c, newKey, { payload: { account: victim.kid, oldKey: victim.key.publicJwk } });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/"account" is not the signing account/);
    await expectKeyUnchanged(c, newKey);
    await expectKeyUnchanged(victim, newKey);
  });

  it('"oldKey" not the current key → 403 unauthorized, key unchanged', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const r = await rollover(c, newKey, { payload: { account: c.kid, oldKey: (await generateAccountKey()).publicJwk } });
    expectProblem(r, 'unauthorized', 403);
    await expectKeyUnchanged(c, newKey);
  });

  it('"oldKey" missing or not a JWK → malformed', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    for (const oldKey of [undefined, null, 'key', 42]) {
      const r = await rollover(c, newKey, { payload: { account: c.kid, oldKey } });
      expectProblem(r, 'malformed', 400);
      expect(r.body.detail).toMatch(/has no "oldKey"/);
    }
    const r = await rollover(c, newKey, { payload: { account: c.kid, oldKey: { kty: 'EC' } } });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/"oldKey" is not a valid JWK/);
    await expectKeyUnchanged(c, newKey);
  });

  it('an empty inner payload → malformed', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const r = await rollover(c, newKey, { payload: '' });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/must name the account and its old key/);
  });

  it('the new key is the old key → malformed (not a 409 pointing at itself)', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const r = await rollover(c, c.key);
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/same as the old one/);
    expect(r.location).toBeNull();
    expectJson(await c.postAsGet(c.kid!), 200);
  });
});

describe('key change: the use case', () => {
  it("a new key another account uses → 409 with that account's Location; neither account changes", async () => {
    const a = await AcmeTestClient.withAccount(t);
    const b = await AcmeTestClient.withAccount(t, 'RS256');
    const r = await rollover(a, b.key);
    expectProblem(r, 'malformed', 409);
    expect(r.location).toBe(b.kid);
    expectJson(await a.postAsGet(a.kid!), 200);
    expectJson(await b.postAsGet(b.kid!), 200);
    expectProblem(await a.postAsGet(a.kid!, { key: b.key }), 'malformed', 400);
  });

  it('the outer JWS must be signed by the account (kid), not by a jwk', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const inner = await innerJws(c, newKey);
    const r = await c.post(t.url('keyChange'), inner, { jwk: true });
    expectProblem(r, 'malformed', 400);
    await expectKeyUnchanged(c, newKey);
  });

  it('a deactivated account cannot roll its key over → 401', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const newKey = await generateAccountKey();
    const inner = await innerJws(c, newKey);
    expectJson(await c.post(c.kid!, { status: 'deactivated' }), 200);
    expectProblem(await c.post(t.url('keyChange'), inner), 'unauthorized', 401);
    const again = new AcmeTestClient(t, newKey);
    expectProblem(await again.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
  });
});
