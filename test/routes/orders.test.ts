import { webcrypto, X509Certificate } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../src/acme/problems.js';
import { AcmeTestClient, EXTERNAL_URL, PEM_CHAIN, startTestGateway, type TestGateway } from '../harness.js';
import { expectAcmeHeaders, expectJson, expectProblem } from './expect.js';

// RFC 8555 §7.4 orders, finalize and certificate download; interop items 17-24, 32-35.

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());
afterEach(() => t.validators.reset());

const ORDER_URL = new RegExp(`^${EXTERNAL_URL}/order/[A-Za-z0-9_-]+$`);

describe('POST /new-order', () => {
  it('→ 201 + Location, status pending, identifiers echoed exactly as sent', async () => {
    const identifiers = [
      { type: 'dns', value: 'WWW.Example.COM' },
      { type: 'dns', value: '*.Wild.example.com' },
      { type: 'ip', value: '192.0.2.7' },
    ];
    const res = await c.newOrder(identifiers);
    expectJson(res, 201);
    expect(res.location).toMatch(ORDER_URL);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body.status).toBe('pending');
    expect(res.body.identifiers).toEqual(identifiers);
    expect(res.body.expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(res.body.finalize).toBe(`${res.location}/finalize`);
    expect(res.body.authorizations).toHaveLength(3);
    expect(res.body).not.toHaveProperty('certificate');
    expect((await c.postAsGet(res.location!)).body).toEqual(res.body);
  });

  it('authorizations drop "*." and set wildcard: true; a wildcard gets only dns-01, ip no dns-01', async () => {
    const res = await c.newOrder([
      { type: 'dns', value: '*.Wild2.example.com' },
      { type: 'dns', value: 'Plain.example.com' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    const [wild, plain, ip] = await Promise.all(res.body.authorizations.map((u: string) => c.postAsGet(u)));
    expectJson(wild!, 200);
    expect(wild!.body.identifier).toEqual({ type: 'dns', value: 'wild2.example.com' });
    expect(wild!.body.wildcard).toBe(true);
    expect(wild!.body.challenges.map((ch: { type: string }) => ch.type)).toEqual(['dns-01']);
    expect(plain!.body.identifier).toEqual({ type: 'dns', value: 'plain.example.com' });
    expect(plain!.body).not.toHaveProperty('wildcard');
    expect(plain!.body.challenges.map((ch: { type: string }) => ch.type).sort()).toEqual(['dns-01', 'http-01', 'tls-alpn-01']);
    expect(ip!.body.identifier.type).toBe('ip');
    expect(ip!.body.challenges.map((ch: { type: string }) => ch.type).sort()).toEqual(['http-01', 'tls-alpn-01']);
    for (const ch of plain!.body.challenges) {
      expect(ch.status).toBe('pending');
      expect(ch.token).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(Buffer.from(ch.token, 'base64url').length).toBeGreaterThanOrEqual(16);
      expect(ch.url).toMatch(new RegExp(`^${EXTERNAL_URL}/chall/[A-Za-z0-9_-]+$`));
    }
  });

  it('drops duplicate identifiers, keeping the first spelling', async () => {
    const res = await c.newOrder(['Dup.example.com', 'dup.EXAMPLE.com']);
    expectJson(res, 201);
    expect(res.body.identifiers).toEqual([{ type: 'dns', value: 'Dup.example.com' }]);
    expect(res.body.authorizations).toHaveLength(1);
  });

  it.each([
    ['identifiers not an array', { identifiers: 'x' }, 'malformed'],
    ['identifier type a number', { identifiers: [{ type: 1, value: 'a.example.com' }] }, 'malformed'],
    ['identifier without value', { identifiers: [{ type: 'dns' }] }, 'malformed'],
    ['identifier as a string', { identifiers: ['a.example.com'] }, 'malformed'],
    ['empty identifiers', { identifiers: [] }, 'malformed'],
    ['no identifiers', {}, 'malformed'],
    ['unsupported type', { identifiers: [{ type: 'email', value: 'a@example.com' }] }, 'unsupportedIdentifier'],
    ['bad DNS name', { identifiers: [{ type: 'dns', value: 'bad_name!.example.com' }] }, 'rejectedIdentifier'],
    ['label starting with a hyphen', { identifiers: [{ type: 'dns', value: '-x.example.com' }] }, 'rejectedIdentifier'],
    ['trailing dot', { identifiers: [{ type: 'dns', value: 'example.com.' }] }, 'rejectedIdentifier'],
    ['empty name', { identifiers: [{ type: 'dns', value: '' }] }, 'rejectedIdentifier'],
    ['too long', { identifiers: [{ type: 'dns', value: `${'a'.repeat(63)}.`.repeat(4) + 'com' }] }, 'rejectedIdentifier'],
    ['wildcard not leftmost', { identifiers: [{ type: 'dns', value: 'a.*.example.com' }] }, 'rejectedIdentifier'],
    ['bare wildcard', { identifiers: [{ type: 'dns', value: '*.com' }] }, 'rejectedIdentifier'],
    ['IP address as dns', { identifiers: [{ type: 'dns', value: '10.0.0.1' }] }, 'rejectedIdentifier'],
    ['bad ip', { identifiers: [{ type: 'ip', value: '999.1.1.1' }] }, 'malformed'],
    ['notBefore not a string', { identifiers: [{ type: 'dns', value: 'a.example.com' }], notBefore: 5 }, 'malformed'],
  ])('%s → %s', async (_name, payload, type) => {
    const res = await c.post(t.url('newOrder'), payload);
    expectProblem(res, type, 400);
  });

  it('several bad identifiers → one problem with subproblems naming each', async () => {
    const res = await c.newOrder(['ok.example.com', 'bad_1.example.com', 'bad_2.example.com']);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.subproblems).toHaveLength(2);
    expect(res.body.subproblems[0].identifier).toEqual({ type: 'dns', value: 'bad_1.example.com' });
  });

  it('an unknown replaces is ignored (Caddy sends it everywhere, interop item 36)', async () => {
    const res = await c.newOrder(['replaces.example.com'], { replaces: 'aGVsbG8.AQID' });
    expectJson(res, 201);
  });
});

describe('order lifecycle', () => {
  it('becomes ready as soon as the last authorization is valid, then valid after finalize', async () => {
    const created = await c.newOrder(['one.example.com', 'two.example.com']);
    const orderUrl = created.location!;
    const [a1, a2] = created.body.authorizations as string[];

    const ch1 = (await c.postAsGet(a1!)).body.challenges.find((x: { type: string }) => x.type === 'http-01');
    expectJson(await c.respondChallenge(ch1.url), 200);
    const authz1 = await c.poll(a1!, (b) => b.status === 'valid');
    expect(authz1.body.status).toBe('valid');
    // One authorization of two: still pending, and finalize is refused.
    const half = await c.postAsGet(orderUrl);
    expect(half.body.status).toBe('pending');
    const early = await c.finalize(created.body.finalize, ['one.example.com', 'two.example.com']);
    expectProblem(early, 'orderNotReady', 403);

    const ch2 = (await c.postAsGet(a2!)).body.challenges.find((x: { type: string }) => x.type === 'dns-01');
    await c.respondChallenge(ch2.url);
    const authz2 = await c.poll(a2!, (b) => b.status === 'valid');
    expect(authz2.body.status).toBe('valid');
    // No poll: the order is ready in the same write that made the last authorization valid (interop item 21).
    const ready = await c.postAsGet(orderUrl);
    expectJson(ready, 200);
    expect(ready.body.status).toBe('ready');
    expect(ready.headers.get('retry-after')).toBeNull();

    const fin = await c.finalize(created.body.finalize, ['two.example.com', 'one.example.com']);
    expectJson(fin, 200);
    expect(fin.location).toBe(orderUrl);
    expect(['processing', 'valid']).toContain(fin.body.status);
    const valid = await c.poll(orderUrl, (b) => b.status === 'valid', 10_000);
    expect(valid.body.status).toBe('valid');
    expect(valid.body.certificate).toMatch(new RegExp(`^${EXTERNAL_URL}/cert/[A-Za-z0-9_-]+$`));

    // Finalizing again: the order is no longer ready.
    expectProblem(await c.finalize(created.body.finalize, ['one.example.com', 'two.example.com']), 'orderNotReady', 403);
  });

  it('finalize answers valid with the certificate URL at once when the PCA is quick (interop item 22)', async () => {
    const created = await c.newOrder(['quick.example.com']);
    await c.completeAuthorizations(created.body);
    const fin = await c.finalize(created.body.finalize, ['quick.example.com']);
    expectJson(fin, 200);
    expect(fin.body.status).toBe('valid');
    expect(fin.body.certificate).toMatch(new RegExp(`^${EXTERNAL_URL}/cert/`));
  });

  it('a failed challenge → challenge invalid with error, authz invalid, order invalid', async () => {
    t.validators.fail(new AcmeProblem('incorrectResponse', 'the key authorization did not match'), { value: 'fails.example.com' });
    const created = await c.newOrder(['fails.example.com', 'fine.example.com']);
    const [authz] = await c.completeAuthorizations({ authorizations: [created.body.authorizations[0]] });
    expect(authz!.body.status).toBe('invalid');
    const ch = authz!.body.challenges.find((x: { status: string }) => x.status === 'invalid');
    expect(ch.error).toMatchObject({ type: 'urn:ietf:params:acme:error:incorrectResponse', status: 400, detail: 'the key authorization did not match' });
    const order = await c.postAsGet(created.location!);
    expect(order.body.status).toBe('invalid');
    expect(order.headers.get('retry-after')).toBeNull();
    expectProblem(await c.finalize(created.body.finalize, ['fails.example.com', 'fine.example.com']), 'orderNotReady', 403);
  });

  it('the validator gets the key authorization token.thumbprint (RFC 8555 §8.1)', async () => {
    const created = await c.newOrder(['keyauth.example.com']);
    const authz = await c.postAsGet(created.body.authorizations[0]);
    const ch = authz.body.challenges.find((x: { type: string }) => x.type === 'http-01');
    await c.respondChallenge(ch.url);
    await c.poll(created.body.authorizations[0], (b) => b.status !== 'pending');
    const call = t.validators.calls.find((x) => x.token === ch.token)!;
    expect(call.keyAuthorization).toBe(`${ch.token}.${await calculateJwkThumbprint(c.key.publicJwk, 'sha256')}`);
    expect(call.identifier).toEqual({ type: 'dns', value: 'keyauth.example.com' });
  });
});

describe('POST /order/:id/finalize', () => {
  async function readyOrder(names: string[]) {
    const created = await c.newOrder(names);
    await c.completeAuthorizations(created.body);
    const ready = await c.poll(created.location!, (b) => b.status === 'ready');
    expect(ready.body.status).toBe('ready');
    return { url: created.location!, finalize: created.body.finalize as string };
  }

  it.each<[string, { names: string[]; keyType?: 'RSA1024' }]>([
    ['a CSR with other names', { names: ['other.example.com'] }],
    ['a CSR missing a name', { names: ['csr1.example.com'] }],
    ['a CSR with an extra name', { names: ['csr1.example.com', 'csr2.example.com', 'extra.example.com'] }],
    ['an RSA-1024 CSR', { names: ['csr1.example.com', 'csr2.example.com'], keyType: 'RSA1024' }],
  ])('%s → badCSR, and the order stays ready', async (_name, { names, keyType }) => {
    const order = await readyOrder(['csr1.example.com', 'csr2.example.com']);
    const res = await c.finalize(order.finalize, names, keyType ? { keyType } : {});
    expectProblem(res, 'badCSR', 400);
    expect((await c.postAsGet(order.url)).body.status).toBe('ready');
  });

  it("a CSR signed with the account key → badCSR (RFC 8555 §11.1), and the order stays ready", async () => {
    const order = await readyOrder(['acctkey.example.com']);
    const publicKey = await webcrypto.subtle.importKey('jwk', c.key.publicJwk as webcrypto.JsonWebKey, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    const res = await c.finalize(order.finalize, ['acctkey.example.com'], { keys: { privateKey: c.key.privateKey as webcrypto.CryptoKey, publicKey } });
    expectProblem(res, 'badCSR', 400);
    expect(res.body.detail).toMatch(/account key/);
    expect((await c.postAsGet(order.url)).body.status).toBe('ready');
    // The same order finalizes with a key of its own.
    expectJson(await c.finalize(order.finalize, ['acctkey.example.com']), 200);
  });

  it.each([
    ['garbage DER', { csr: Buffer.from('not a csr at all').toString('base64url') }, 'badCSR'],
    ['csr not base64url', { csr: 'abc+/=' }, 'malformed'],
    ['csr a number', { csr: 12 }, 'malformed'],
    ['no csr', {}, 'malformed'],
  ])('%s → %s', async (_name, payload, type) => {
    const order = await readyOrder(['garbage.example.com']);
    expectProblem(await c.post(order.finalize, payload), type, 400);
  });

  it('CN missing, CN also in SAN, and names in another case are all accepted', async () => {
    const a = await readyOrder(['NoCn.example.com']);
    expectJson(await c.finalize(a.finalize, ['nocn.example.com'], { commonName: null }), 200);
    const b = await readyOrder(['cased.example.com']);
    expectJson(await c.finalize(b.finalize, ['CASED.example.com']), 200);
  });

  // RFC 8555 §7.4: only a ready order may be finalized, and the order's status is checked before the
  // CSR is even read: whatever the payload, a pending, valid or invalid order answers 403
  // orderNotReady naming its status, and is left as it was. (The store's conditional write would
  // also refuse a pending order, but only after the CSR was checked, and with another detail.)
  const GARBAGE_CSR = { csr: Buffer.from('not a csr at all').toString('base64url') };

  it('a pending order → 403 orderNotReady "pending", for a garbage CSR and for a good one; it stays pending', async () => {
    const created = await c.newOrder(['notready.example.com']);
    for (const payload of [GARBAGE_CSR, { csr: await AcmeTestClient.csr(['notready.example.com']) }]) {
      const res = await c.post(created.body.finalize, payload);
      expectProblem(res, 'orderNotReady', 403);
      expect(res.body.detail).toBe('the order is pending, not ready');
    }
    const after = await c.postAsGet(created.location!);
    expect(after.body.status).toBe('pending');
    expect(after.body).not.toHaveProperty('certificate');
    expect((await c.postAsGet(created.body.authorizations[0])).body.status).toBe('pending');
  });

  it('a valid order → 403 orderNotReady "valid", for a garbage CSR and for a good one; its certificate is unchanged', async () => {
    const issued = await c.issue(['finalized.example.com']);
    for (const payload of [GARBAGE_CSR, { csr: await AcmeTestClient.csr(['finalized.example.com']) }]) {
      const res = await c.post(issued.order.finalize, payload);
      expectProblem(res, 'orderNotReady', 403);
      expect(res.body.detail).toBe('the order is valid, not ready');
    }
    const after = await c.postAsGet(issued.orderUrl);
    expect(after.body.status).toBe('valid');
    expect(after.body.certificate).toBe(issued.certUrl);
  });

  it('an invalid order → 403 orderNotReady "invalid", for a garbage CSR and for a good one; it stays invalid', async () => {
    t.validators.fail(new AcmeProblem('incorrectResponse', 'no'), { value: 'refused.example.com' });
    const created = await c.newOrder(['refused.example.com']);
    await c.completeAuthorizations(created.body);
    for (const payload of [GARBAGE_CSR, { csr: await AcmeTestClient.csr(['refused.example.com']) }]) {
      const res = await c.post(created.body.finalize, payload);
      expectProblem(res, 'orderNotReady', 403);
      expect(res.body.detail).toBe('the order is invalid, not ready');
    }
    expect((await c.postAsGet(created.location!)).body.status).toBe('invalid');
  });

  it('POST-as-GET on finalize → malformed (it needs a CSR)', async () => {
    const order = await readyOrder(['emptyfin.example.com']);
    expectProblem(await c.postAsGet(order.finalize), 'malformed', 400);
  });
});

describe('POST /cert/:id', () => {
  it('→ 200 application/pem-certificate-chain, leaf first, ≥ 2 blocks, verifying to the simulator root', async () => {
    const { certUrl } = await c.issue(['chain.example.com', '*.chain.example.com', { type: 'ip', value: '192.0.2.10' }]);
    const res = await c.download(certUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PEM_CHAIN);
    expectAcmeHeaders(res);
    expect(res.links.filter((l) => l.rel === 'up')).toEqual([]); // interop item 33
    const blocks = res.text.match(/-----BEGIN CERTIFICATE-----\n[\s\S]+?\n-----END CERTIFICATE-----\n/g) ?? [];
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks.join('')).toBe(res.text); // nothing between or after the blocks
    const certs = blocks.map((b) => new X509Certificate(b));
    const root = new X509Certificate(t.gw.simulator!.rootPem);
    for (let i = 0; i < certs.length - 1; i++) {
      expect(certs[i]!.checkIssued(certs[i + 1]!)).toBe(true);
      expect(certs[i]!.verify(certs[i + 1]!.publicKey)).toBe(true);
    }
    const last = certs[certs.length - 1]!;
    const top = last.checkIssued(root) ? root : last;
    expect(last.checkIssued(top)).toBe(true);
    expect(last.verify(top.publicKey)).toBe(true);
    const leaf = certs[0]!;
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toContain('DNS:chain.example.com');
    expect(leaf.subjectAltName).toContain('DNS:*.chain.example.com');
    expect(leaf.subjectAltName).toContain('IP Address:192.0.2.10');
  });

  it('POST-as-GET with a body on the certificate → malformed; on the order → malformed', async () => {
    const { certUrl, orderUrl } = await c.issue(['body.example.com']);
    expectProblem(await c.post(certUrl, {}), 'malformed', 400);
    expectProblem(await c.post(orderUrl, {}), 'malformed', 400);
    expectProblem(await c.post(orderUrl, { status: 'valid' }), 'malformed', 400);
  });

  it('an unknown certificate → 404', async () => {
    expectProblem(await c.postAsGet(`${EXTERNAL_URL}/cert/nope`), 'malformed', 404);
  });
});
