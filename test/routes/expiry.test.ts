import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// Time-driven states with a clock the test moves: nonce lifetime (RFC 8555 §6.5), expired
// authorizations (interop item 25: 404 like Boulder, never "expired") and expired orders (§7.1.6).

const HOUR = 3600_000;
let t: TestGateway;
let clock: ManualClock;
let c: AcmeTestClient;

beforeAll(async () => {
  // Start at the real time so the simulator's certificates (on its own clock) stay consistent.
  clock = new ManualClock(Date.now());
  t = await startTestGateway({
    overrides: { clock },
    config: { acme: { nonceLifetimeSeconds: 3600, orderLifetimeSeconds: 2 * 3600, authorizationLifetimeSeconds: 2 * 3600 } },
  });
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());

describe('expiry', () => {
  it('a nonce older than its lifetime → badNonce; a fresh one works', async () => {
    const old = await c.nonce();
    clock.advance(HOUR + 1000);
    const r = await c.postAsGet(c.kid!, { nonce: old });
    expectProblem(r, 'badNonce', 400);
    expect(r.body.detail).toContain('JWS has an invalid anti-replay nonce');
    expectJson(await c.postAsGet(c.kid!), 200);
  });

  it('an expired authorization → 404 "Expired authorization"; its challenge cannot be answered; the order is invalid', async () => {
    const order = await c.newOrder(['expiring.example.com']);
    const authzUrl = order.body.authorizations[0] as string;
    const ch = (await c.postAsGet(authzUrl)).body.challenges[0];
    clock.advance(2 * HOUR + 1000);
    const authz = await c.postAsGet(authzUrl);
    expectProblem(authz, 'malformed', 404);
    expect(authz.body.detail).toBe('Expired authorization');
    expectProblem(await c.respondChallenge(ch.url), 'malformed', 404);
    const o = await c.postAsGet(order.location!);
    expectJson(o, 200);
    expect(o.body.status).toBe('invalid');
    expectProblem(await c.finalize(order.body.finalize, ['expiring.example.com']), 'orderNotReady', 403);
  });

  it('a ready order that expires becomes invalid and cannot be finalized', async () => {
    const order = await c.newOrder(['ready-expiring.example.com']);
    await c.completeAuthorizations(order.body);
    expect((await c.postAsGet(order.location!)).body.status).toBe('ready');
    clock.advance(2 * HOUR + 1000);
    expect((await c.postAsGet(order.location!)).body.status).toBe('invalid');
    expectProblem(await c.finalize(order.body.finalize, ['ready-expiring.example.com']), 'orderNotReady', 403);
  });
});
