import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, b64u, handmadeJws, startTestGateway, type TestGateway } from '../harness.js';
import { rsaCsrWithJunkSignature } from '../support/der-csr.js';
import { expectJson, expectProblem } from './expect.js';

// Size caps on what a client can make the gateway parse or compute (issue 9 item 7): RSA keys above
// 8192 bits are refused from their text, before a signature is checked or a CSR verified; the
// newOrder members have upper bounds; what is echoed into a problem detail is cut short.

let t: TestGateway;
let c: AcmeTestClient;

beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());

describe('RSA key size caps', () => {
  it('a newAccount jwk with a 16384-bit modulus → badPublicKey, decided before the signature', async () => {
    const nonce = await c.nonce();
    const jwk = { kty: 'RSA', n: b64u(Buffer.concat([Buffer.from([0xc0]), randomBytes(2047)])), e: 'AQAB' };
    // The signature is junk: a size refusal that came after the signature check would say "malformed".
    const jws = handmadeJws({ alg: 'RS256', jwk, nonce, url: t.url('newAccount') }, { termsOfServiceAgreed: true }, () => randomBytes(2048));
    const r = await c.postRaw(t.url('newAccount'), jws);
    expectProblem(r, 'badPublicKey', 400);
    expect(r.body.detail).toBe('RSA account keys must be at most 8192 bits');
  });

  it('a CSR with a 16384-bit RSA key → badCSR naming the size, before its signature is checked; the order stays ready', async () => {
    const created = await c.newOrder(['big-key.example.com']);
    await c.completeAuthorizations(created.body);
    const ready = await c.poll(created.location!, (b) => b.status === 'ready');
    expect(ready.body.status).toBe('ready');
    const r = await c.post(ready.body.finalize, { csr: rsaCsrWithJunkSignature(16384, 'big-key.example.com') });
    expectProblem(r, 'badCSR', 400);
    // A junk signature is refused only after the key: this detail proves the key was looked at first.
    expect(r.body.detail).toBe('RSA key size 16384 is not supported: use 2048, 3072 or 4096');
    expect((await c.postAsGet(created.location!)).body.status).toBe('ready');
    expectJson(await c.finalize(ready.body.finalize, ['big-key.example.com']), 200);
  });
});

describe('newOrder bounds', () => {
  const order = (identifiers: unknown, extra: Record<string, unknown> = {}) => c.post(t.url('newOrder'), { identifiers, ...extra });

  it.each([
    ['a 301-character value', [{ type: 'dns', value: `${'a'.repeat(63)}.`.repeat(5).slice(0, 301) }], /"identifiers\.0\.value" Too big: expected string to have <=300 characters/],
    ['a 33-character type', [{ type: 'x'.repeat(33), value: 'a.example.com' }], /"identifiers\.0\.type" Too big/],
    ['101 identifiers', Array.from({ length: 101 }, (_, i) => ({ type: 'dns', value: `n${i}.example.com` })), /"identifiers" Too big/],
  ])('%s → malformed naming the member', async (_what, identifiers, detail) => {
    const r = await order(identifiers);
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(detail);
  });

  it('a notAfter of 65 characters → malformed', async () => {
    const r = await order([{ type: 'dns', value: 'a.example.com' }], { notAfter: `2030-01-01T00:00:00${'0'.repeat(46)}Z` });
    expectProblem(r, 'malformed', 400);
    expect(r.body.detail).toMatch(/"notAfter" Too big/);
  });

  it('a 253-character name is still a DNS name; 254 are rejectedIdentifier', async () => {
    const name = (length: number) => `${'a'.repeat(61)}.`.repeat(5).slice(0, length - 12) + '.example.com';
    expectJson(await order([{ type: 'dns', value: name(253) }]), 201);
    expectProblem(await order([{ type: 'dns', value: name(254) }]), 'rejectedIdentifier', 400);
  });
});

describe('echoes are cut short', () => {
  it('a 10,000-character unknown path → 404 with a short detail', async () => {
    const r = await c.postRaw(`/${'x'.repeat(10_000)}`, '{}');
    expectProblem(r, 'malformed', 404);
    expect(r.body.detail.length).toBeLessThan(250);
  });

  it('a 10,000-character alg → badSignatureAlgorithm with a short detail', async () => {
    const jws = handmadeJws({ alg: 'A'.repeat(10_000), kid: c.kid, nonce: await c.nonce(), url: t.url('newOrder') }, {});
    const r = await c.postRaw(t.url('newOrder'), jws);
    expectProblem(r, 'badSignatureAlgorithm', 400);
    expect(r.body.detail.length).toBeLessThan(150);
  });
});
