import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DIRECTORY } from '../../src/acme/links.js';
import { eabKekPath } from '../../src/config/paths.js';
import { systemClock } from '../../src/platform/clock.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, b64u, generateAccountKey, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';
import { jwsText, rawJws } from './raw-jws.js';

// Strict JSON (acme/strict-json.ts) at every place a client's JSON is read: the request body, the
// JWS protected header and payload, the EAB JWS, the key-change inner JWS. A duplicate member name
// is malformed and named (RFC 7515 §4: a JWS with duplicate header names is rejected); what
// hand-built clients send (acme.sh, dehydrated: their own spacing and member order) still passes.

let t: TestGateway;
let c: AcmeTestClient;

beforeAll(async () => {
  t = await startTestGateway({ config: { acme: { externalAccountRequired: false } } });
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());

const header = async (url: string, extra = '') => `{"alg":"ES256","kid":${JSON.stringify(c.kid)},"nonce":"${await c.nonce()}","url":${JSON.stringify(url)}${extra}}`;

async function refused(body: string, detail: RegExp | string, url = t.url('newOrder')) {
  const r = await c.postRaw(url, body);
  expectProblem(r, 'malformed', 400);
  if (typeof detail === 'string') expect(r.body.detail).toBe(detail);
  else expect(r.body.detail).toMatch(detail);
  return r;
}

const ORDER = '{"identifiers":[{"type":"dns","value":"strict.example.com"}]}';

describe('duplicate member names are malformed, named', () => {
  it('in the request body', async () => {
    const jws = rawJws(c.key, await header(t.url('newOrder')), ORDER);
    await refused(jwsText(jws, { extra: `,"payload":${JSON.stringify(b64u('{"identifiers":[]}'))}` }), /^the request body has a duplicate member "payload";/);
  });

  it('in the protected header, before the signature is checked and so without burning the nonce', async () => {
    const nonce = await c.nonce();
    const url = t.url('newOrder');
    const dupHeader = `{"alg":"ES256","kid":${JSON.stringify(c.kid)},"nonce":"${nonce}","url":${JSON.stringify(url)},"alg":"none"}`;
    await refused(jwsText(rawJws(c.key, dupHeader, ORDER)), /^the JWS protected header has a duplicate member "alg";/);
    // The same nonce still works: the refused request never reached the nonce step.
    const good = rawJws(c.key, `{"alg":"ES256","kid":${JSON.stringify(c.kid)},"nonce":"${nonce}","url":${JSON.stringify(url)}}`, ORDER);
    expectJson(await c.postRaw(url, jwsText(good)), 201);
  });

  it('in the protected header when the second name is spelled with an escape', async () => {
    const h = await header(t.url('newOrder'), ',"\\u006eonce":"AAAA"');
    await refused(jwsText(rawJws(c.key, h, ORDER)), /duplicate member "nonce"/);
  });

  it('inside the embedded jwk of newAccount', async () => {
    const other = await AcmeTestClient.create(t);
    const jwk = JSON.stringify(other.key.publicJwk).replace(/}$/, ',"crv":"P-384"}');
    const h = `{"alg":"ES256","jwk":${jwk},"nonce":"${await c.nonce()}","url":${JSON.stringify(t.url('newAccount'))}}`;
    await refused(jwsText(rawJws(other.key, h, '{"termsOfServiceAgreed":true}')), /duplicate member "crv" \(at "jwk\.crv"\)/, t.url('newAccount'));
    expectProblem(await other.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
  });

  it('in the payload, after the signature verified, and no order is made', async () => {
    const before = (await c.postAsGet(`${c.kid}/orders`)).body.orders.length;
    const payload = '{"identifiers":[{"type":"dns","value":"a.example.com","value":"b.example.com"}]}';
    await refused(jwsText(rawJws(c.key, await header(t.url('newOrder')), payload)), /^the JWS payload has a duplicate member "value" \(at "identifiers\[0\]\.value"\);/);
    expect((await c.postAsGet(`${c.kid}/orders`)).body.orders.length).toBe(before);
  });

  it('in an account update payload', async () => {
    const payload = '{"contact":["mailto:a@example.com"],"contact":["mailto:b@example.com"]}';
    await refused(jwsText(rawJws(c.key, await header(c.kid!), payload)), /duplicate member "contact"/, c.kid!);
    expect((await c.postAsGet(c.kid!)).body.contact).toEqual(['mailto:admin@example.com']);
  });

  it('in the key-change inner JWS: its members, its header and its payload', async () => {
    const newKey = await generateAccountKey();
    const url = t.url('keyChange');
    const innerHeader = `{"alg":"ES256","jwk":${JSON.stringify(newKey.publicJwk)},"url":${JSON.stringify(url)}}`;
    const innerPayload = `{"account":${JSON.stringify(c.kid)},"oldKey":${JSON.stringify(c.key.publicJwk)}}`;
    const inner = rawJws(newKey, innerHeader, innerPayload);
    const cases: Array<[string, RegExp]> = [
      [jwsText(inner, { extra: `,"signature":"AAAA"` }), /^the JWS payload has a duplicate member "signature";/],
      [jwsText(rawJws(newKey, innerHeader.replace(/}$/, `,"url":"https://elsewhere.test/"}`), innerPayload)), /^the JWS protected header has a duplicate member "url";/],
      [jwsText(rawJws(newKey, innerHeader, innerPayload.replace(/}$/, `,"account":"https://acme.test/acct/other"}`))), /^the JWS payload has a duplicate member "account";/],
    ];
    for (const [outerPayload, detail] of cases) {
      await refused(jwsText(rawJws(c.key, await header(url), outerPayload)), detail, url);
    }
    // The account kept its key.
    expectJson(await c.postAsGet(c.kid!), 200);
  });
});

describe('duplicate member names in the EAB JWS', () => {
  let e: TestGateway;
  let service: EabKeyService;
  beforeAll(async () => {
    e = await startTestGateway({ config: { acme: { externalAccountRequired: true } } });
    service = new EabKeyService(e.gw.store, EabKeySealer.fromFile(eabKekPath(e.gw.config)), systemClock, cryptoRandom);
  });
  afterAll(async () => e?.dispose());

  async function register(eabHeader: (kid: string, url: string) => string, eabPayload: (jwk: string) => string) {
    const client = await AcmeTestClient.create(e);
    const minted = await service.create(DEFAULT_DIRECTORY, 'strict json', null);
    const key = Buffer.from(minted.hmacKey, 'base64url');
    const url = e.url('newAccount');
    const h = b64u(eabHeader(minted.keyId, url));
    const p = b64u(eabPayload(JSON.stringify(client.key.publicJwk)));
    const binding = { protected: h, payload: p, signature: createHmac('sha256', key).update(`${h}.${p}`).digest('base64url') };
    const r = await client.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding });
    return { r, client, keyId: minted.keyId };
  }

  it('a duplicate in the EAB protected header or payload is malformed, and binds nothing', async () => {
    const good = (kid: string, url: string) => `{"alg":"HS256","kid":"${kid}","url":${JSON.stringify(url)}}`;
    for (const [h, p, detail] of [
      [(kid: string, url: string) => good(kid, url).replace(/}$/, ',"kid":"kid-other"}'), (jwk: string) => jwk, /^the JWS protected header has a duplicate member "kid";/],
      [good, (jwk: string) => jwk.replace(/}$/, ',"x":"AAAA"}'), /^the JWS externalAccountBinding payload has a duplicate member "x";/],
    ] as const) {
      const { r, client, keyId } = await register(h, p);
      expectProblem(r, 'malformed', 400);
      expect(r.body.detail).toMatch(detail);
      expectProblem(await client.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
      expect((await e.gw.store.eabKeys.get(keyId))?.boundAccountId).toBeNull();
    }
  });

  it('a spaced, reordered EAB JWS as acme.sh builds it is accepted', async () => {
    const { r } = await register(
      (kid, url) => `{ "url": ${JSON.stringify(url)}, "kid": "${kid}", "alg": "HS256" }`,
      (jwk) => `{ ${jwk.slice(1, -1).replace(/,/g, ', ').replace(/:/g, ': ')} }`,
    );
    expectJson(r, 201);
  });
});

describe('hand-built JSON as acme.sh and dehydrated send it', () => {
  it('spaces, newlines and any member order in the body, header and payload → 201', async () => {
    const url = t.url('newOrder');
    const h = `{ "url": ${JSON.stringify(url)},\n  "nonce": "${await c.nonce()}", "kid": ${JSON.stringify(c.kid)}, "alg": "ES256" }`;
    const payload = '{\n  "identifiers": [ { "value": "hand-built.example.com", "type": "dns" } ]\n}\n';
    const body = jwsText(rawJws(c.key, h, payload), { order: ['signature', 'payload', 'protected'], space: ' ' });
    expectJson(await c.postRaw(url, `\n${body}\n`), 201);
  });

  it('a newAccount whose jwk members come in another order, spaced → 201', async () => {
    const other = await AcmeTestClient.create(t);
    const k = other.key.publicJwk as Record<string, string>;
    const jwk = `{ "y": "${k.y}", "x": "${k.x}", "kty": "EC", "crv": "P-256" }`;
    const h = `{"nonce": "${await c.nonce()}", "url": ${JSON.stringify(t.url('newAccount'))}, "jwk": ${jwk}, "alg": "ES256"}`;
    expectJson(await other.postRaw(t.url('newAccount'), jwsText(rawJws(other.key, h, '{ "termsOfServiceAgreed": true }'))), 201);
  });

  it('the same name in different objects is not a duplicate', async () => {
    const payload = '{"identifiers":[{"type":"dns","value":"one.example.com"},{"type":"dns","value":"two.example.com"}]}';
    expectJson(await c.postRaw(t.url('newOrder'), jwsText(rawJws(c.key, await header(t.url('newOrder')), payload))), 201);
  });
});

describe('depth, size and encoding', () => {
  it('a payload nested deeper than 32 levels → malformed, naming the limit', async () => {
    const payload = `{"identifiers":[{"type":"dns","value":"a.example.com"}],"x":${'['.repeat(40)}${']'.repeat(40)}}`;
    await refused(jwsText(rawJws(c.key, await header(t.url('newOrder')), payload)), 'the JWS payload is nested deeper than 32 levels');
  });

  it('a body nested deeper than 32 levels → malformed', async () => {
    await refused(`${'['.repeat(5000)}${']'.repeat(5000)}`, 'the request body is nested deeper than 32 levels');
  });

  it('more than 1024 objects and arrays → malformed', async () => {
    const payload = `{"identifiers":[{"type":"dns","value":"a.example.com"}],"x":[${Array(2000).fill('{}').join(',')}]}`;
    await refused(jwsText(rawJws(c.key, await header(t.url('newOrder')), payload)), 'the JWS payload has more than 1024 objects and arrays');
  });

  it('a protected header or payload that is not UTF-8 → not valid JSON', async () => {
    const h = Buffer.concat([Buffer.from((await header(t.url('newOrder'))).slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')]);
    await refused(jwsText(rawJws(c.key, h, ORDER)), 'the JWS protected header is not valid JSON');
    const p = Buffer.from('{"identifiers":[{"type":"dns","value":"\xe9.example.com"}]}', 'latin1');
    await refused(jwsText(rawJws(c.key, await header(t.url('newOrder')), p)), 'the JWS payload is not valid JSON');
  });

  it('a request body that is not UTF-8 → not valid JSON', async () => {
    await refused(Buffer.from('{"protected":"\xff"}', 'latin1') as never, 'the request body is not valid JSON');
  });
});
