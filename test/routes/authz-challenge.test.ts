import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../src/acme/problems.js';
import { AcmeTestClient, EXTERNAL_URL, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// RFC 8555 §7.5 authorizations and challenges; interop items 25-31.

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());
afterEach(() => t.validators.reset());

async function pendingAuthz(name: string) {
  const order = await c.newOrder([name]);
  const authzUrl = order.body.authorizations[0] as string;
  const authz = await c.postAsGet(authzUrl);
  return { orderUrl: order.location!, authzUrl, authz: authz.body, http01: authz.body.challenges.find((x: { type: string }) => x.type === 'http-01') };
}

describe('POST /authz/:id', () => {
  it('POST-as-GET → 200 with identifier, status, expires, challenges and Retry-After while pending', async () => {
    const { authzUrl } = await pendingAuthz('authz.example.com');
    const res = await c.postAsGet(authzUrl);
    expectJson(res, 200);
    expect(res.body).toMatchObject({ identifier: { type: 'dns', value: 'authz.example.com' }, status: 'pending' });
    expect(res.body.expires).toMatch(/Z$/);
    expect(res.headers.get('retry-after')).toBe('1');
    for (const ch of res.body.challenges) expect(Object.keys(ch).sort()).toEqual(['status', 'token', 'type', 'url']);
  });

  it('{"status":"deactivated"} → 200 deactivated, and the order becomes invalid (interop item 31)', async () => {
    const { authzUrl, orderUrl } = await pendingAuthz('deact.example.com');
    const res = await c.post(authzUrl, { status: 'deactivated' });
    expectJson(res, 200);
    expect(res.body.status).toBe('deactivated');
    expect((await c.postAsGet(orderUrl)).body.status).toBe('invalid');
    expectProblem(await c.post(authzUrl, { status: 'deactivated' }), 'malformed', 400);
  });

  it('{} reads the authorization; any other change is malformed', async () => {
    const { authzUrl } = await pendingAuthz('authzupd.example.com');
    expectJson(await c.post(authzUrl, {}), 200);
    expectProblem(await c.post(authzUrl, { status: 'valid' }), 'malformed', 400);
    expectProblem(await c.post(authzUrl, { status: 5 }), 'malformed', 400);
  });

  it('an unknown authorization → 404', async () => {
    expectProblem(await c.postAsGet(`${EXTERNAL_URL}/authz/nope`), 'malformed', 404);
  });
});

describe('POST /chall/:id', () => {
  it('{} → 200, Link rel="up" to the authz, url equal to the posted URL; the authz becomes valid', async () => {
    const { authzUrl, http01 } = await pendingAuthz('chall.example.com');
    const res = await c.respondChallenge(http01.url, { keyAuthorization: 'legacy clients send this; ignored' });
    expectJson(res, 200);
    expect(res.links).toContainEqual({ url: authzUrl, rel: 'up' });
    expect(res.links).toContainEqual({ url: `${EXTERNAL_URL}/directory`, rel: 'index' });
    expect(res.body.url).toBe(http01.url);
    expect(res.body.type).toBe('http-01');
    expect(res.body.token).toBe(http01.token);
    expect(['processing', 'valid']).toContain(res.body.status);
    const authz = await c.poll(authzUrl, (b) => b.status !== 'pending');
    expect(authz.body.status).toBe('valid');
    const ch = authz.body.challenges.find((x: { url: string }) => x.url === http01.url);
    expect(ch.status).toBe('valid');
    expect(ch.validated).toMatch(/Z$/);
    // Posting again to a valid challenge is harmless.
    const again = await c.respondChallenge(http01.url);
    expectJson(again, 200);
    expect(again.body.status).toBe('valid');
  });

  it('POST-as-GET only reads the challenge and never starts validation (interop item 28)', async () => {
    const { http01, authzUrl } = await pendingAuthz('readonly.example.com');
    const res = await c.postAsGet(http01.url);
    expectJson(res, 200);
    expect(res.body.status).toBe('pending');
    expect(res.links).toContainEqual({ url: authzUrl, rel: 'up' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.postAsGet(http01.url)).body.status).toBe('pending');
    expect(t.validators.calls.filter((x) => x.token === http01.token)).toEqual([]);
  });

  it('is processing with Retry-After while the validator works, and the challenge is validated once', async () => {
    const release = t.validators.hold();
    const { http01, authzUrl } = await pendingAuthz('slow.example.com');
    const res = await c.respondChallenge(http01.url);
    expect(res.body.status).toBe('processing');
    expect(res.headers.get('retry-after')).toBe('1');
    const authz = await c.postAsGet(authzUrl);
    expect(authz.body.status).toBe('pending'); // never "processing" on an authz (interop item 25)
    expectJson(await c.respondChallenge(http01.url), 200); // a second POST does not start a second validation
    release();
    await c.poll(authzUrl, (b) => b.status !== 'pending');
    expect(t.validators.calls.filter((x) => x.token === http01.token)).toHaveLength(1);
  });

  it('a second challenge of the same authorization cannot start while one is processing', async () => {
    const release = t.validators.hold();
    const { authz, authzUrl } = await pendingAuthz('twochall.example.com');
    const [first, second] = authz.challenges as Array<{ url: string; token: string }>;
    await c.respondChallenge(first!.url);
    const res = await c.respondChallenge(second!.url);
    expectJson(res, 200);
    expect(res.body.status).toBe('pending');
    release();
    await c.poll(authzUrl, (b) => b.status !== 'pending');
    expect(t.validators.calls.filter((x) => x.token === second!.token)).toEqual([]);
  });

  it('a failed validation carries its problem on the challenge (interop item 29)', async () => {
    t.validators.fail(new AcmeProblem('connection', 'could not connect to 192.0.2.1:80'), { type: 'http-01' });
    const { http01, authzUrl } = await pendingAuthz('failing.example.com');
    await c.respondChallenge(http01.url);
    const authz = await c.poll(authzUrl, (b) => b.status !== 'pending');
    expect(authz.body.status).toBe('invalid');
    const ch = (await c.postAsGet(http01.url)).body;
    expect(ch.status).toBe('invalid');
    expect(ch.error).toEqual({ type: 'urn:ietf:params:acme:error:connection', detail: 'could not connect to 192.0.2.1:80', status: 400 });
    // Responding to a challenge of an invalid authorization is refused with a problem.
    const other = authz.body.challenges.find((x: { type: string }) => x.type === 'dns-01');
    expectProblem(await c.respondChallenge(other.url), 'malformed', 400);
  });

  it('a payload that is not an object → malformed', async () => {
    const { http01 } = await pendingAuthz('arr.example.com');
    expectProblem(await c.post(http01.url, '[]'), 'malformed', 400);
    expectProblem(await c.post(http01.url, '"x"'), 'malformed', 400);
  });

  it('an unknown challenge → 404', async () => {
    expectProblem(await c.respondChallenge(`${EXTERNAL_URL}/chall/nope`), 'malformed', 404);
  });
});
