import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, b64u, startTestGateway, type TestGateway } from '../harness.js';
import { expectProblem } from './expect.js';

// Bad input on every POST endpoint: whatever arrives, the answer is a problem document with the
// right status and type, never a 500 (interop item 7).

let t: TestGateway;
let c: AcmeTestClient;
let privateKey: KeyObject;
const endpoints: Array<{ name: string; url: string; jwk: boolean }> = [];

beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
  privateKey = createPrivateKey({ key: (await exportJWK(c.key.privateKey)) as never, format: 'jwk' });
  const issued = await c.issue(['bad-input.example.com']);
  const authz = await c.postAsGet(issued.order.authorizations[0]);
  endpoints.push(
    { name: 'newAccount', url: t.url('newAccount'), jwk: true },
    { name: 'account', url: c.kid!, jwk: false },
    { name: 'orders', url: `${c.kid}/orders`, jwk: false },
    { name: 'keyChange', url: t.url('keyChange'), jwk: false },
    { name: 'newOrder', url: t.url('newOrder'), jwk: false },
    { name: 'order', url: issued.orderUrl, jwk: false },
    { name: 'finalize', url: issued.order.finalize, jwk: false },
    { name: 'authz', url: issued.order.authorizations[0], jwk: false },
    { name: 'challenge', url: authz.body.challenges[0].url, jwk: false },
    { name: 'certificate', url: issued.certUrl, jwk: false },
    { name: 'revokeCert', url: t.url('revokeCert'), jwk: false },
  );
});
afterAll(async () => t?.dispose());

const unsignedBodies: Array<[string, string]> = [
  ['not JSON', 'this is not json'],
  ['truncated JSON', '{"protected": "ey'],
  ['a JSON array', '[]'],
  ['JSON null', 'null'],
  ['a JSON number', '42'],
  ['a JSON string', '"jws"'],
  ['empty', ''],
  ['whitespace', '   \n'],
  ['an empty object', '{}'],
  ['no protected', JSON.stringify({ payload: '', signature: 'AAAA' })],
  ['no payload', JSON.stringify({ protected: b64u('{"alg":"ES256"}'), signature: 'AAAA' })],
  ['no signature', JSON.stringify({ protected: b64u('{"alg":"ES256"}'), payload: '' })],
  ['protected a number', JSON.stringify({ protected: 1, payload: '', signature: 'AAAA' })],
  ['protected null', JSON.stringify({ protected: null, payload: '', signature: 'AAAA' })],
  ['an extra member', JSON.stringify({ protected: b64u('{"alg":"ES256"}'), payload: '', signature: 'AAAA', extra: 1 })],
  ['general serialization', JSON.stringify({ payload: '', signatures: [{ protected: b64u('{"alg":"ES256"}'), signature: 'AAAA' }] })],
  ['an unprotected header', JSON.stringify({ protected: b64u('{"alg":"ES256"}'), header: { kid: 'x' }, payload: '', signature: 'AAAA' })],
  ['protected not base64url', JSON.stringify({ protected: '!!!', payload: '', signature: 'AAAA' })],
  ['protected not JSON', JSON.stringify({ protected: b64u('not json'), payload: '', signature: 'AAAA' })],
  ['protected a JSON array', JSON.stringify({ protected: b64u('[1,2]'), payload: '', signature: 'AAAA' })],
  ['protected JSON null', JSON.stringify({ protected: b64u('null'), payload: '', signature: 'AAAA' })],
  ['protected without alg', JSON.stringify({ protected: b64u('{"nonce":"x","url":"y"}'), payload: '', signature: 'AAAA' })],
  ['protected alg a number', JSON.stringify({ protected: b64u('{"alg":5}'), payload: '', signature: 'AAAA' })],
  ['binary garbage', '\u0000\u0001\u00ff{'],
];

/** What each endpoint answers to the payload of wrong-typed members below, and why. */
const WRONG_TYPES_ANSWER: Record<string, [string, number, RegExp]> = {
  newAccount: ['malformed', 400, /^newAccount: "contact"/],
  account: ['malformed', 400, /^account update: "contact"/],
  // RFC 8555 §6.3: resources read with POST-as-GET take no payload at all.
  orders: ['malformed', 400, /POST-as-GET requests must have an empty payload/],
  order: ['malformed', 400, /POST-as-GET requests must have an empty payload/],
  certificate: ['malformed', 400, /POST-as-GET requests must have an empty payload/],
  // RFC 8555 §7.3.5: the payload must be a JWS (the inner one, signed by the new key).
  keyChange: ['malformed', 400, /"protected" is missing or not a string/],
  newOrder: ['malformed', 400, /^newOrder: "identifiers"/],
  // RFC 8555 §7.4: the order here is already valid; the status check comes before the CSR is read.
  finalize: ['orderNotReady', 403, /the order is valid, not ready/],
  authz: ['malformed', 400, /^authorization update: "status"/],
  revokeCert: ['malformed', 400, /^revokeCert: "certificate"/],
};

describe.each([
  'newAccount',
  'account',
  'orders',
  'keyChange',
  'newOrder',
  'order',
  'finalize',
  'authz',
  'challenge',
  'certificate',
  'revokeCert',
])('%s', (name) => {
  const ep = () => endpoints.find((e) => e.name === name)!;

  it.each(unsignedBodies)('unsigned body: %s → 400 malformed', async (_what, body) => {
    expectProblem(await c.postRaw(ep().url, body), 'malformed', 400);
  });

  it('a huge body → 413', async () => {
    expectProblem(await c.postRaw(ep().url, `{"protected":"${'A'.repeat(200_000)}"}`), 'malformed', 413);
  });

  it.each([
    ['JSON null', 'null'],
    ['a JSON array', '[]'],
    ['a JSON number', '42'],
    ['a JSON string', '"x"'],
    ['not JSON', 'not json'],
    ['JSON with trailing garbage', '{}}'],
  ])('signed payload that is %s → 400 malformed', async (_what, payload) => {
    const r = await c.post(ep().url, payload, { jwk: ep().jwk });
    expectProblem(r, 'malformed', 400);
  });

  it('signed payload that is not base64url → 400 malformed', async () => {
    const header = { alg: 'ES256', nonce: await c.nonce(), url: ep().url, ...(ep().jwk ? { jwk: c.key.publicJwk } : { kid: c.kid }) };
    const protectedB64 = b64u(JSON.stringify(header));
    const payload = 'e30=!!'; // '{}' with padding and junk
    const signature = sign('sha256', Buffer.from(`${protectedB64}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expectProblem(await c.postRaw(ep().url, { protected: protectedB64, payload, signature: b64u(signature) }), 'malformed', 400);
  });

  // A challenge ignores extra members on purpose (interop item 27: legacy keyAuthorization), so there
  // the same payload is an ordinary "start validation" (200); everywhere else it is a problem, of the
  // type and status the endpoint's own rule gives.
  it('a signed payload with members of the wrong types is a problem (a challenge ignores them), never a 500', async () => {
    const payload = { identifiers: 'x', contact: 5, csr: [], status: {}, certificate: 7, reason: 'x', onlyReturnExisting: 'x' };
    const r = await c.post(ep().url, payload, { jwk: ep().jwk });
    if (name === 'challenge') {
      expect(r.status).toBe(200);
      return;
    }
    const [type, status, detail] = WRONG_TYPES_ANSWER[name]!;
    expectProblem(r, type, status);
    expect(r.body.detail).toMatch(detail);
  });
});

describe('read-only resources', () => {
  // RFC 8555 §7.1.2.1: the orders list is fetched with POST-as-GET, like an order or a certificate
  // (which already refuse a payload); a body is a client mistake to report, not to ignore.
  it('the orders list with a non-empty payload → malformed', async () => {
    expectProblem(await c.post(`${c.kid}/orders`, {}), 'malformed', 400);
  });
});

describe('revokeCert payloads', () => {
  it.each([
    ['no certificate', {}, 'malformed', 400],
    ['certificate not base64url', { certificate: 'a+b/' }, 'malformed', 400],
    ['certificate garbage DER', { certificate: b64u('garbage') }, 'malformed', 400],
    ['reason a string', { certificate: b64u('garbage'), reason: 'x' }, 'malformed', 400],
  ] as const)('%s → %s', async (_what, payload, type, status) => {
    expectProblem(await c.post(t.url('revokeCert'), payload), type, status);
  });

  it('POST-as-GET → malformed', async () => {
    expectProblem(await c.postAsGet(t.url('revokeCert')), 'malformed', 400);
  });
});

describe('newOrder edge payloads', () => {
  // The payload schema rejects what is not a well-formed request (malformed); a well-formed
  // identifier the gateway will not issue for is rejectedIdentifier (RFC 8555 §6.7); an unknown
  // profile is invalidProfile (draft-ietf-acme-profiles §4).
  const EDGE_ANSWER: Record<string, [string, RegExp]> = {
    '101 identifiers': ['malformed', /"identifiers" Too big/],
    'a 2000-character value': ['malformed', /"identifiers\.0\.value" Too big/],
    'notAfter not a date': ['malformed', /notAfter must be an RFC 3339 date-time/],
    'notBefore after notAfter': ['malformed', /notBefore must not be in the future/],
    'an unknown profile': ['invalidProfile', /profile "nope" is not offered/],
    'identifiers with null': ['malformed', /"identifiers\.0" Invalid input/],
    'value with a NUL': ['rejectedIdentifier', /is not a valid DNS name/],
    'unicode name': ['rejectedIdentifier', /"bücher\.example\.com" is not a valid DNS name/],
    'ip with a zone': ['malformed', /"fe80::1%eth0" is not an IP address/],
  };

  it.each([
    ['101 identifiers', { identifiers: Array.from({ length: 101 }, (_, i) => ({ type: 'dns', value: `n${i}.example.com` })) }],
    ['a 2000-character value', { identifiers: [{ type: 'dns', value: 'a'.repeat(2000) }] }],
    ['notAfter not a date', { identifiers: [{ type: 'dns', value: 'a.example.com' }], notAfter: 'tomorrow' }],
    ['notBefore after notAfter', { identifiers: [{ type: 'dns', value: 'a.example.com' }], notBefore: '2030-01-02T00:00:00Z', notAfter: '2030-01-01T00:00:00Z' }],
    ['an unknown profile', { identifiers: [{ type: 'dns', value: 'a.example.com' }], profile: 'nope' }],
    ['identifiers with null', { identifiers: [null] }],
    ['value with a NUL', { identifiers: [{ type: 'dns', value: 'a\u0000.example.com' }] }],
    ['unicode name', { identifiers: [{ type: 'dns', value: 'bücher.example.com' }] }],
    ['ip with a zone', { identifiers: [{ type: 'ip', value: 'fe80::1%eth0' }] }],
  ])('%s → a 4xx problem', async (what, payload) => {
    const r = await c.post(t.url('newOrder'), payload);
    const [type, detail] = EDGE_ANSWER[what]!;
    expectProblem(r, type, 400);
    expect(r.body.detail).toMatch(detail);
  });

  it('an unknown profile → invalidProfile', async () => {
    expectProblem(await c.post(t.url('newOrder'), { identifiers: [{ type: 'dns', value: 'a.example.com' }], profile: 'nope' }), 'invalidProfile', 400);
  });
});
