import { generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, EXTERNAL_URL, generateAccountKey, handmadeJws, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// RFC 8555 §7.3 accounts, §7.3.5 key change; interop items 11-15, 39.

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => t?.dispose());

const ACCOUNT_URL = new RegExp(`^${EXTERNAL_URL}/acct/[A-Za-z0-9_-]+$`);

describe('POST /new-account', () => {
  it.each(['ES256', 'RS256'] as const)('a new %s key → 201 + Location + status valid + contact echoed', async (alg) => {
    const c = await AcmeTestClient.create(t, alg);
    const res = await c.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:Ops@Example.com'] });
    expectJson(res, 201);
    expect(res.location).toMatch(ACCOUNT_URL);
    expect(res.body).toMatchObject({ status: 'valid', contact: ['mailto:Ops@Example.com'], orders: `${res.location}/orders` });
  });

  it('the same key again → 200 with the same Location (RFC 8555 §7.3.1)', async () => {
    const c = await AcmeTestClient.create(t);
    const first = await c.newAccount();
    const second = await c.newAccount({ contact: ['mailto:other@example.com'] });
    expectJson(second, 200);
    expect(second.location).toBe(first.location);
    expect(second.body.status).toBe('valid');
  });

  it('accepts termsOfServiceAgreed false and no contact (node acme-client, x/crypto)', async () => {
    const c = await AcmeTestClient.create(t);
    const res = await c.newAccount({ termsOfServiceAgreed: false });
    expectJson(res, 201);
    expect(res.body.contact).toEqual([]);
  });

  it('onlyReturnExisting with a known key → 200 + Location + account', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const known = c.kid;
    const res = await c.newAccount({ onlyReturnExisting: true, contact: ['mailto:ignored@example.com'] });
    expectJson(res, 200);
    expect(res.location).toBe(known);
    expect(res.body.status).toBe('valid');
  });

  it('onlyReturnExisting with an unknown key → 400 accountDoesNotExist (uacme probes with it)', async () => {
    const c = await AcmeTestClient.create(t);
    const res = await c.newAccount({ onlyReturnExisting: true });
    expectProblem(res, 'accountDoesNotExist', 400);
    expect(res.location).toBeNull();
  });

  it('a kid instead of a jwk → malformed', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const res = await c.post(t.url('newAccount'), { termsOfServiceAgreed: true });
    expectProblem(res, 'malformed', 400);
  });

  it.each([
    [['https://example.com'], 'unsupportedContact'],
    [['tel:+1234'], 'unsupportedContact'],
    [['mailto:a@b.com,c@d.com'], 'invalidContact'],
    [['mailto:not-an-address'], 'invalidContact'],
    [['mailto:a@b.com?subject=x'], 'invalidContact'],
  ])('contact %j → %s', async (contact, type) => {
    const c = await AcmeTestClient.create(t);
    expectProblem(await c.newAccount({ contact }), type, 400);
  });

  it.each([
    ['contact as a string', { contact: 'mailto:a@b.com' }],
    ['contact with a number', { contact: [1] }],
    ['onlyReturnExisting as a string', { onlyReturnExisting: 'yes' }],
    ['termsOfServiceAgreed as a number', { termsOfServiceAgreed: 1 }],
  ])('wrong member types (%s) → malformed', async (_name, payload) => {
    const c = await AcmeTestClient.create(t);
    expectProblem(await c.newAccount(payload), 'malformed', 400);
  });

  it('an RSA-1024 account key → badPublicKey', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const c = await AcmeTestClient.create(t);
    const header = { alg: 'RS256', nonce: await c.nonce(), url: t.url('newAccount'), jwk: pair.publicKey.export({ format: 'jwk' }) };
    const jws = handmadeJws(header, { termsOfServiceAgreed: true }, (input) => sign('sha256', input, pair.privateKey));
    expectProblem(await c.postRaw(t.url('newAccount'), jws), 'badPublicKey', 400);
  });

  it('a jwk with private key material → badPublicKey', async () => {
    const key = await generateAccountKey('ES256');
    const privateJwk = await exportJWK(key.privateKey);
    const c = new AcmeTestClient(t, { ...key, publicJwk: privateJwk });
    expectProblem(await c.newAccount(), 'badPublicKey', 400);
  });
});

describe('POST /new-account with terms of service (RFC 8555 §7.3, §7.3.3)', () => {
  let tos: TestGateway;
  beforeAll(async () => {
    tos = await startTestGateway({ config: { acme: { termsOfService: 'https://acme.test/tos' } } });
  });
  afterAll(async () => tos?.dispose());

  it('not agreeing → 403 userActionRequired and no account; agreeing → 201 with termsOfServiceAgreed', async () => {
    const c = await AcmeTestClient.create(tos);
    expectProblem(await c.newAccount({ contact: ['mailto:a@example.com'] }), 'userActionRequired', 403);
    expectProblem(await c.newAccount({ termsOfServiceAgreed: false }), 'userActionRequired', 403);
    expectProblem(await c.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
    const res = await c.newAccount({ termsOfServiceAgreed: true });
    expectJson(res, 201);
    expect(res.body.termsOfServiceAgreed).toBe(true);
  });
});

describe('POST /acct/:id', () => {
  it('POST-as-GET and {} both read the account (node, dehydrated)', async () => {
    const c = await AcmeTestClient.withAccount(t);
    for (const payload of ['', {}]) {
      const res = await c.post(c.kid!, payload);
      expectJson(res, 200);
      expect(res.location).toBe(c.kid);
      expect(res.body.status).toBe('valid');
    }
  });

  it('updates the contact', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const res = await c.post(c.kid!, { contact: ['mailto:new@example.com'] });
    expectJson(res, 200);
    expect(res.body.contact).toEqual(['mailto:new@example.com']);
    expect((await c.postAsGet(c.kid!)).body.contact).toEqual(['mailto:new@example.com']);
  });

  it('refuses a bad contact update', async () => {
    const c = await AcmeTestClient.withAccount(t);
    expectProblem(await c.post(c.kid!, { contact: ['ftp://x'] }), 'unsupportedContact', 400);
    expectProblem(await c.post(c.kid!, { contact: 'mailto:a@b.com' }), 'malformed', 400);
  });

  it('ignores status (other than deactivated), orders, termsOfServiceAgreed and unknown fields (RFC 8555 §7.3.2)', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const before = (await c.postAsGet(c.kid!)).body;
    // What the Python acme library sends: the account as it read it, with a new contact.
    const res = await c.post(c.kid!, {
      contact: ['mailto:changed@example.com'],
      status: 'valid',
      termsOfServiceAgreed: true,
      orders: 'https://elsewhere.example/orders',
      createdAt: '2020-01-01T00:00:00Z',
      key: { kty: 'EC' },
    });
    expectJson(res, 200);
    expect(res.body).toEqual({ ...before, contact: ['mailto:changed@example.com'] });
    expect((await c.postAsGet(c.kid!)).body).toEqual({ ...before, contact: ['mailto:changed@example.com'] });
    for (const status of ['revoked', 'valid', 7, null]) {
      const again = await c.post(c.kid!, { status });
      expectJson(again, 200);
      expect(again.body).toEqual({ ...before, contact: ['mailto:changed@example.com'] });
    }
  });

  it('deactivation → 200 deactivated; afterwards every request of the account is unauthorized (RFC 8555 §7.3.6)', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const res = await c.post(c.kid!, { status: 'deactivated' });
    expectJson(res, 200);
    expect(res.body.status).toBe('deactivated');
    expectProblem(await c.postAsGet(c.kid!), 'unauthorized', 401);
    expectProblem(await c.newOrder(['after.example.com']), 'unauthorized', 401);
    // The key is refused at newAccount too (RFC 8555 §7.3.6; Boulder and Pebble do the same),
    // with or without onlyReturnExisting, and no new account is made for it.
    expectProblem(await c.newAccount(), 'unauthorized', 401);
    expectProblem(await c.newAccount({ onlyReturnExisting: true }), 'unauthorized', 401);
    expectProblem(await c.newAccount(), 'unauthorized', 401);
  });

  it("another account's URL → 403 unauthorized, not its data", async () => {
    const a = await AcmeTestClient.withAccount(t);
    const b = await AcmeTestClient.withAccount(t);
    const res = await b.postAsGet(a.kid!);
    expectProblem(res, 'unauthorized', 403);
    expect(res.text).not.toContain('mailto:');
    expectProblem(await b.post(a.kid!, { status: 'deactivated' }), 'unauthorized', 403);
    expect((await a.postAsGet(a.kid!)).body.status).toBe('valid');
  });

  it('an unknown kid → 400 accountDoesNotExist (certmagic registers again on it)', async () => {
    const c = await AcmeTestClient.create(t);
    c.kid = `${EXTERNAL_URL}/acct/doesnotexist`;
    expectProblem(await c.newOrder(['x.example.com']), 'accountDoesNotExist', 400);
    c.kid = 'https://elsewhere.example/acct/1';
    expectProblem(await c.newOrder(['x.example.com']), 'accountDoesNotExist', 400);
  });
});

describe('POST /acct/:id/orders', () => {
  it('lists the account’s orders, and only its own', async () => {
    const a = await AcmeTestClient.withAccount(t);
    const b = await AcmeTestClient.withAccount(t);
    const o1 = await a.newOrder(['list1.example.com']);
    const o2 = await a.newOrder(['list2.example.com']);
    await b.newOrder(['other.example.com']);
    const res = await a.postAsGet(`${a.kid}/orders`);
    expectJson(res, 200);
    expect(res.body.orders).toEqual([o1.location, o2.location]);
    expectProblem(await b.postAsGet(`${a.kid}/orders`), 'unauthorized', 403);
  });

  it('pages with Link rel="next", and the next page can be fetched with its URL in the JWS (RFC 8555 §7.1.2.1)', async () => {
    const a = await AcmeTestClient.withAccount(t);
    const created: string[] = [];
    for (let i = 0; i < 101; i++) created.push((await a.newOrder([`page${i}.example.com`])).location!);
    const first = await a.postAsGet(`${a.kid}/orders`);
    expectJson(first, 200);
    expect(first.body.orders).toHaveLength(100);
    const next = first.links.find((l) => l.rel === 'next');
    expect(next?.url).toMatch(new RegExp(`^${a.kid}/orders\\?cursor=[A-Za-z0-9_-]+$`));
    // RFC 8555 §6.4: the JWS url is the URL the request goes to, query included.
    const second = await a.postAsGet(next!.url);
    expectJson(second, 200);
    expect(second.links.find((l) => l.rel === 'next')).toBeUndefined();
    expect([...first.body.orders, ...second.body.orders]).toEqual(created);
  });
});

describe('POST /key-change', () => {
  async function keyChange(c: AcmeTestClient, newKey: Awaited<ReturnType<typeof generateAccountKey>>, innerOverride: Record<string, unknown> = {}) {
    const url = t.url('keyChange');
    const inner = await c.sign(url, { account: c.kid, oldKey: c.key.publicJwk, ...innerOverride }, { jwk: true, key: newKey, header: { nonce: undefined } });
    return c.post(url, inner);
  }

  it('rolls the key over: 200, the new key signs, the old one no longer does', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const oldKey = c.key;
    const newKey = await generateAccountKey('RS256');
    const res = await keyChange(c, newKey);
    expectJson(res, 200);
    expect(res.location).toBe(c.kid);
    c.key = newKey;
    expectJson(await c.postAsGet(c.kid!), 200);
    c.key = oldKey;
    expectProblem(await c.postAsGet(c.kid!), 'malformed', 400);
    // The new key finds the same account on newAccount.
    const again = new AcmeTestClient(t, newKey);
    expect((await again.newAccount({ onlyReturnExisting: true })).location).toBe(c.kid);
  });

  it('a new key that belongs to another account → 409 with Location of that account', async () => {
    const a = await AcmeTestClient.withAccount(t);
    const b = await AcmeTestClient.withAccount(t);
    const res = await keyChange(a, b.key);
    expectProblem(res, 'malformed', 409);
    expect(res.location).toBe(b.kid);
  });

  it('a wrong oldKey → unauthorized; a wrong account → malformed; a non-JWS payload → malformed', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const other = await generateAccountKey();
    expectProblem(await keyChange(c, await generateAccountKey(), { oldKey: other.publicJwk }), 'unauthorized', 403);
    expectProblem(await keyChange(c, await generateAccountKey(), { account: `${EXTERNAL_URL}/acct/nope` }), 'malformed', 400);
    expectProblem(await c.post(t.url('keyChange'), { hello: 'world' }), 'malformed', 400);
    expectProblem(await c.post(t.url('keyChange'), ''), 'malformed', 400);
  });
});
