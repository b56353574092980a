import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../src/acme/problems.js';
import { listen, type RunningListener } from '../../src/http/listener.js';
import { ManualClock } from '../../src/platform/clock.js';
import type { EabKeyExtras, EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, startTestGateway, type AcmeResponse, type TestGateway } from '../harness.js';
import { accountWithKey, eabKeys } from './eab-support.js';
import { expectJson, expectProblem } from './expect.js';

// Rate limits (issue 9 item 5, RFC 8555 §6.6) through the routes, on a clock the test moves: each
// limit refuses at exactly its configured count with `rateLimited`, 429, a Retry-After of the whole
// seconds until it frees up and a detail naming the limit and its value; it lets the request
// through once the window has passed. Each limit is set in its own directory (limits are per
// directory), with the others off (0), so one limit is tested at a time.

const HOUR = 3_600_000;
const OFF = { newOrdersPerAccount: 0, newAccountsPerIp: 0, failedValidationsPerIdentifier: 0, pendingOrdersPerAccount: 0, concurrentValidationsPerAccount: 0 };
const CONFIG = {
  rateLimits: { ...OFF, newAccountsPerIp: { limit: 2, windowSeconds: 3600 }, newOrdersPerAccount: { limit: 3, windowSeconds: 600 } },
  directories: {
    pending: { rateLimits: { ...OFF, pendingOrdersPerAccount: 2 } },
    flaky: { rateLimits: { ...OFF, failedValidationsPerIdentifier: 2 } },
    busy: { rateLimits: { ...OFF, concurrentValidationsPerAccount: 2 } },
    off: { rateLimits: OFF },
  },
};

function expectRateLimited(res: AcmeResponse, retryAfter: number, detail: RegExp, index?: string): void {
  expectProblem(res, 'rateLimited', 429, index ? { index } : {});
  expect(res.headers.get('retry-after')).toBe(String(retryAfter));
  expect(res.body.detail).toMatch(detail);
}

async function from(t: TestGateway, address: string | undefined, directory?: string): Promise<AcmeTestClient> {
  const c = await AcmeTestClient.create(t, 'ES256', directory);
  c.from = address;
  return c;
}

const index = (t: TestGateway, directory: string) => t.urlIn(directory, 'directory');

describe('rate limits', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ config: CONFIG, overrides: { clock } });
  });
  afterAll(async () => t?.dispose());

  it('newAccountsPerIp: the third new account from an address is refused until the first leaves the window', async () => {
    expectJson(await (await from(t, '192.0.2.10')).newAccount(), 201);
    clock.advance(10_000);
    const second = await from(t, '192.0.2.10');
    expectJson(await second.newAccount(), 201);
    clock.advance(5_000);
    const third = await from(t, '192.0.2.10');
    expectRateLimited(await third.newAccount(), 3585, /too many new accounts from 192\.0\.2\.10: the limit is 2 per 1h \(rateLimits\.newAccountsPerIp of the default directory\); retry after 3585 s/);
    // Nothing was created: the key has no account.
    expectProblem(await third.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400);
    // An existing account's key is answered as always, and is not counted.
    expectJson(await second.newAccount(), 200);
    // Other addresses, and a request with no socket address, are not this address's count.
    expectJson(await (await from(t, '192.0.2.11')).newAccount(), 201);
    expectJson(await (await from(t, undefined)).newAccount(), 201);
    // The IPv4-mapped form is the same client.
    expectRateLimited(await (await from(t, '::ffff:192.0.2.10')).newAccount(), 3585, /newAccountsPerIp/);
    clock.advance(3584_000);
    expectRateLimited(await third.newAccount(), 1, /retry after 1 s/);
    clock.advance(1_000);
    expectJson(await third.newAccount(), 201);
    expectRateLimited(await (await from(t, '192.0.2.10')).newAccount(), 10, /retry after 10 s/);
  });

  it('newAccountsPerIp counts an IPv6 client by its /64, and each directory on its own', async () => {
    expectJson(await (await from(t, '2001:db8:1:2::a')).newAccount(), 201);
    expectJson(await (await from(t, '2001:db8:1:2:ffff::b')).newAccount(), 201);
    expectRateLimited(await (await from(t, '2001:db8:1:2::c')).newAccount(), 3600, /too many new accounts from 2001:db8:1:2::\/64/);
    expectJson(await (await from(t, '2001:db8:1:3::a')).newAccount(), 201);
    // The "off" directory has no such limit; its accounts are its own anyway.
    for (let i = 0; i < 4; i++) expectJson(await (await from(t, '2001:db8:1:2::c', 'off')).newAccount(), 201, { index: index(t, 'off') });
  });

  it('newOrdersPerAccount: the fourth new order in 10 minutes is refused, and not created; the window passing frees it', async () => {
    const c = await from(t, '198.51.100.1');
    expectJson(await c.newAccount(), 201);
    for (let i = 0; i < 3; i++) {
      expectJson(await c.newOrder([`o${i}.example.com`]), 201);
      clock.advance(60_000);
    }
    const refused = await c.newOrder(['o3.example.com']);
    expectRateLimited(refused, 420, /too many new orders for this account: the limit is 3 per 10m \(rateLimits\.newOrdersPerAccount of the default directory\); retry after 420 s/);
    expect((await c.postAsGet(c.url('orders', c.kid!.split('/').pop()))).body.orders).toHaveLength(3);
    // A refusal counts nothing, and another account has its own window.
    const other = await from(t, '198.51.100.2');
    expectJson(await other.newAccount(), 201);
    expectJson(await other.newOrder(['other.example.com']), 201);
    clock.advance(420_000);
    expectJson(await c.newOrder(['o3.example.com']), 201);
    expectRateLimited(await c.newOrder(['o4.example.com']), 60, /retry after 60 s/);
  });

  it('newOrdersPerAccount: an order the issuance policy or the identifier checks refuse counts nothing', async () => {
    const c = await from(t, '198.51.100.3');
    expectJson(await c.newAccount(), 201);
    for (let i = 0; i < 5; i++) expectProblem(await c.newOrder(['bad..name']), 'rejectedIdentifier', 400);
    for (let i = 0; i < 3; i++) expectJson(await c.newOrder([`p${i}.example.com`]), 201);
    expectProblem(await c.newOrder(['p3.example.com']), 'rateLimited', 429);
  });

  it('pendingOrdersPerAccount: a third pending order is refused until one expires or is authorized', async () => {
    const c = await from(t, '198.51.100.4', 'pending');
    expectJson(await c.newAccount(), 201, { index: index(t, 'pending') });
    const first = await c.newOrder(['a.example.com']);
    expectJson(first, 201, { index: index(t, 'pending') });
    clock.advance(1000);
    expectJson(await c.newOrder(['b.example.com']), 201, { index: index(t, 'pending') });
    // The first expires 7 days (acme.orderLifetimeSeconds) after it was made.
    const expiresIn = Math.ceil((Date.parse(first.body.expires) - clock.nowMs()) / 1000);
    expectRateLimited(await c.newOrder(['c.example.com']), expiresIn, /too many pending orders for this account: the limit is 2 at once \(rateLimits\.pendingOrdersPerAccount of directory "pending"\)/, index(t, 'pending'));
    // Authorizing the first moves it to ready: a place is free.
    await c.completeAuthorizations(first.body);
    expect((await c.poll(first.location!, (b) => b.status === 'ready')).body.status).toBe('ready');
    expectJson(await c.newOrder(['c.example.com']), 201, { index: index(t, 'pending') });
    expectProblem(await c.newOrder(['d.example.com']), 'rateLimited', 429, { index: index(t, 'pending') });
  });

  it('failedValidationsPerIdentifier: after two failures in an hour a new order naming the identifier is refused, with a subproblem for it', async () => {
    const c = await from(t, '198.51.100.5', 'flaky');
    const at = { index: index(t, 'flaky') };
    expectJson(await c.newAccount(), 201, at);
    t.validators.fail(new AcmeProblem('incorrectResponse', 'wrong key authorization'), { value: 'flaky.example.com' });
    const firstFailure = clock.nowMs();
    for (let i = 0; i < 2; i++) {
      const o = await c.newOrder(['flaky.example.com']);
      expectJson(o, 201, at);
      const [authz] = await c.completeAuthorizations(o.body);
      expect(authz!.body.status).toBe('invalid');
      clock.advance(60_000);
    }
    const refused = await c.newOrder(['Flaky.Example.com']);
    expectRateLimited(refused, 3600 - 120, /too many failed validations of "flaky\.example\.com" for this account: the limit is 2 per 1h \(rateLimits\.failedValidationsPerIdentifier of directory "flaky"\)/, index(t, 'flaky'));
    expect(refused.body.identifier).toEqual({ type: 'dns', value: 'flaky.example.com' });
    // Other names are not limited; an order with the name among others names it in a subproblem.
    expectJson(await c.newOrder(['fine.example.com']), 201, at);
    const both = await c.newOrder(['fine2.example.com', 'flaky.example.com']);
    expectRateLimited(both, 3600 - 120, /failed validations of "flaky\.example\.com"/, index(t, 'flaky'));
    // Two limited identifiers: one subproblem each, and the longer wait.
    t.validators.fail(new AcmeProblem('incorrectResponse', 'wrong key authorization'), { value: 'flaky-b.example.com' });
    for (let i = 0; i < 2; i++) await c.completeAuthorizations((await c.newOrder(['flaky-b.example.com'])).body);
    const two = await c.newOrder(['flaky.example.com', 'flaky-b.example.com']);
    expectRateLimited(two, 3600, /^too many failed validations of "flaky\.example\.com", "flaky-b\.example\.com" for this account: the limit is 2 per 1h .*; retry after 3600 s$/, index(t, 'flaky'));
    expect(two.body.subproblems.map((p: { identifier: { value: string }; type: string; detail: string }) => [p.type, p.identifier.value, /retry after (\d+) s/.exec(p.detail)![1]])).toEqual([
      ['urn:ietf:params:acme:error:rateLimited', 'flaky.example.com', '3480'],
      ['urn:ietf:params:acme:error:rateLimited', 'flaky-b.example.com', '3600'],
    ]);
    // Another account of the same client has its own count.
    const other = await from(t, '198.51.100.5', 'flaky');
    expectJson(await other.newAccount(), 201, at);
    expectJson(await other.newOrder(['flaky.example.com']), 201, at);
    clock.set(firstFailure + HOUR);
    t.validators.reset();
    const again = await c.newOrder(['flaky.example.com']);
    expectJson(again, 201, at);
    expect((await c.completeAuthorizations(again.body))[0]!.body.status).toBe('valid');
  });

  it('concurrentValidationsPerAccount: a third challenge while two validate is refused and stays pending; it may be answered once one ends', async () => {
    const c = await from(t, '198.51.100.6', 'busy');
    const at = { index: index(t, 'busy') };
    expectJson(await c.newAccount(), 201, at);
    const o = await c.newOrder(['v1.example.com', 'v2.example.com', 'v3.example.com']);
    const challenges: string[] = [];
    for (const authzUrl of o.body.authorizations as string[]) challenges.push((await c.postAsGet(authzUrl)).body.challenges.find((ch: { type: string }) => ch.type === 'http-01').url);
    const release = t.validators.hold();
    try {
      expectJson(await c.respondChallenge(challenges[0]!), 200, at);
      clock.advance(30_000);
      expectJson(await c.respondChallenge(challenges[1]!), 200, at);
      const refused = await c.respondChallenge(challenges[2]!);
      // The first validation's deadline (5 minutes after it started) is the latest it frees a place.
      expectRateLimited(refused, 270, /too many validations in progress for this account: the limit is 2 at once \(rateLimits\.concurrentValidationsPerAccount of directory "busy"\)/, index(t, 'busy'));
      expect((await c.postAsGet(challenges[2]!)).body.status).toBe('pending');
    } finally {
      release();
    }
    await c.poll(o.body.authorizations[0], (b) => b.status === 'valid');
    expectJson(await c.respondChallenge(challenges[2]!), 200, at);
    expect((await c.poll(o.body.authorizations[2], (b) => b.status === 'valid')).body.status).toBe('valid');
  });

  it('a limit of 0 is off', async () => {
    const c = await from(t, '198.51.100.7', 'off');
    expectJson(await c.newAccount(), 201, { index: index(t, 'off') });
    for (let i = 0; i < 12; i++) expectJson(await c.newOrder([`n${i}.example.com`]), 201, { index: index(t, 'off') });
  });
});

describe('rate limits of an EAB key', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let t: TestGateway;
  let service: EabKeyService;
  beforeAll(async () => {
    t = await startTestGateway({ config: { rateLimits: { newOrdersPerAccount: { limit: 2, windowSeconds: 600 }, newAccountsPerIp: { limit: 1, windowSeconds: 600 } } }, overrides: { clock } });
    service = eabKeys(t, clock);
  });
  afterAll(async () => t?.dispose());

  const withKey = (extras: EabKeyExtras, address: string) => accountWithKey(t, service, { extras, from: address });

  it("a key's override replaces the directory's value for its account, up or down, and the detail names the key", async () => {
    const tight = await withKey({ rateLimits: { newOrdersPerAccount: { limit: 1, windowSeconds: 60 } } }, '203.0.113.1');
    expectJson(await tight.c.newOrder(['k1.example.com']), 201);
    expectRateLimited(await tight.c.newOrder(['k2.example.com']), 60, new RegExp(`the limit is 1 per 1m \\(rateLimits\\.newOrdersPerAccount of EAB key ${tight.kid}\\)`));
    const loose = await withKey({ rateLimits: { newOrdersPerAccount: { limit: 0 } } }, '203.0.113.2');
    for (let i = 0; i < 5; i++) expectJson(await loose.c.newOrder([`l${i}.example.com`]), 201);
    const plain = await withKey({}, '203.0.113.3');
    for (let i = 0; i < 2; i++) expectJson(await plain.c.newOrder([`d${i}.example.com`]), 201);
    expectRateLimited(await plain.c.newOrder(['d2.example.com']), 600, /rateLimits\.newOrdersPerAccount of the default directory/);
    // A count without a window keeps the directory's window.
    const counted = await withKey({ rateLimits: { newOrdersPerAccount: { limit: 3 } } }, '203.0.113.4');
    for (let i = 0; i < 3; i++) expectJson(await counted.c.newOrder([`w${i}.example.com`]), 201);
    expectRateLimited(await counted.c.newOrder(['w3.example.com']), 600, /the limit is 3 per 10m \(rateLimits\.newOrdersPerAccount of EAB key/);
  });

  it("newAccountsPerIp: the key's override applies to the newAccount that binds it", async () => {
    await withKey({}, '203.0.113.9');
    const c = await from(t, '203.0.113.9');
    expectRateLimited(await c.newAccount(), 600, /newAccountsPerIp of the default directory/);
    await withKey({ rateLimits: { newAccountsPerIp: { limit: 5, windowSeconds: 60 } } }, '203.0.113.9');
  });
});

describe('rate limits across a restart', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let t: TestGateway;
  afterAll(async () => t?.dispose());

  it('the counts are in the database: a restarted gateway refuses what the old one would have, and frees it at the same time', async () => {
    t = await startTestGateway({ config: { rateLimits: { newAccountsPerIp: { limit: 2, windowSeconds: 3600 }, newOrdersPerAccount: { limit: 1, windowSeconds: 3600 } } }, overrides: { clock } });
    const c = await from(t, '192.0.2.50');
    expectJson(await c.newAccount(), 201);
    expectJson(await (await from(t, '192.0.2.50')).newAccount(), 201);
    expectJson(await c.newOrder(['before.example.com']), 201);
    clock.advance(600_000);

    t = await t.restart();
    const again = new AcmeTestClient(t, c.key);
    again.from = '192.0.2.50';
    expectJson(await again.newAccount(), 200);
    expectRateLimited(await again.newOrder(['after.example.com']), 3000, /newOrdersPerAccount/);
    expectRateLimited(await (await from(t, '192.0.2.50')).newAccount(), 3000, /newAccountsPerIp/);
    clock.advance(3000_000);
    expectJson(await again.newOrder(['after.example.com']), 201);
    expectJson(await (await from(t, '192.0.2.50')).newAccount(), 201);
  });
});

describe('the client address behind a proxy (server.trustProxyHeaders)', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  const gateways: TestGateway[] = [];
  afterAll(async () => Promise.all(gateways.map((g) => g.dispose())));

  const register = async (t: TestGateway, forwardedFor: string) => {
    const c = await from(t, '10.0.0.1'); // every request comes from the proxy
    return c.post(c.url('newAccount'), { termsOfServiceAgreed: true }, { jwk: true, headers: { 'X-Forwarded-For': forwardedFor } });
  };

  it('on: the last X-Forwarded-For address is the client; what the client wrote before it is not', async () => {
    const t = await startTestGateway({ config: { server: { trustProxyHeaders: true }, rateLimits: { newAccountsPerIp: { limit: 1, windowSeconds: 60 } } }, overrides: { clock } });
    gateways.push(t);
    expectJson(await register(t, '192.0.2.1'), 201);
    expectRateLimited(await register(t, '203.0.113.77, 192.0.2.1'), 60, /from 192\.0\.2\.1:/);
    expectJson(await register(t, '192.0.2.1, 192.0.2.2'), 201);
    expectJson(await register(t, '[2001:db8::1]:4711'), 201);
  });

  it('off (the default): X-Forwarded-For is ignored and the socket address counts', async () => {
    const t = await startTestGateway({ config: { rateLimits: { newAccountsPerIp: { limit: 1, windowSeconds: 60 } } }, overrides: { clock } });
    gateways.push(t);
    expectJson(await register(t, '192.0.2.1'), 201);
    expectRateLimited(await register(t, '192.0.2.2'), 60, /from 10\.0\.0\.1:/);
  });
});

describe('the client address on a real socket', () => {
  let t: TestGateway;
  let server: RunningListener;
  beforeAll(async () => {
    t = await startTestGateway({ config: { rateLimits: { newAccountsPerIp: { limit: 1, windowSeconds: 60 } } } });
    server = await listen(t.gw.app as never, { host: '127.0.0.1', port: 0, tls: null });
  });
  afterAll(async () => {
    await server?.close();
    await t?.dispose();
  });

  /** newAccount for a fresh key, sent through the Node listener (so the socket's address is the client's). */
  async function overTheWire(): Promise<{ status: number; retryAfter: string | undefined; body: { detail?: string } }> {
    const c = await AcmeTestClient.create(t);
    const jws = await c.sign(c.url('newAccount'), { termsOfServiceAgreed: true }, { jwk: true });
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: new URL(c.url('newAccount')).pathname, method: 'POST', headers: { 'Content-Type': 'application/jose+json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(jws));
    });
  }

  it("@hono/node-server's incoming request gives the peer address: the second new account from 127.0.0.1 is refused", async () => {
    expect((await overTheWire()).status).toBe(201);
    const refused = await overTheWire();
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(50);
    expect(refused.body.detail).toMatch(/too many new accounts from 127\.0\.0\.1: the limit is 1 per 1m/);
  });
});
