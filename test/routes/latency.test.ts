import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson } from './expect.js';

// Issue 11: work that ends in a few milliseconds is seen by the client in the answer to the request
// that started it, not after a poll interval or a job-runner tick. The waits are set long here so
// that a loaded machine cannot turn this into a timing test: what is checked is the status the
// client reads, never how long it took.

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway({ config: { server: { challengeWaitMs: 20_000, finalizeWaitMs: 20_000 } }, overrides: { jobPollMs: 3_600_000 } });
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());

describe('quick work is seen at once', () => {
  it('the challenge POST answers valid, the authorization is valid on its first read and the order ready, with no Retry-After', async () => {
    // jobPollMs is an hour: only the kick of the challenge POST can have started the validation.
    const order = await c.newOrder(['quick.example.com']);
    const authzUrl = order.body.authorizations[0] as string;
    const http01 = (await c.postAsGet(authzUrl)).body.challenges.find((x: { type: string }) => x.type === 'http-01');
    const answered = await c.respondChallenge(http01.url);
    expectJson(answered, 200);
    expect(answered.body.status).toBe('valid');
    expect(answered.headers.get('retry-after')).toBeNull();
    const authz = await c.postAsGet(authzUrl);
    expect(authz.body.status).toBe('valid');
    expect(authz.headers.get('retry-after')).toBeNull();
    const ready = await c.postAsGet(order.location!);
    expect(ready.body.status).toBe('ready');
    expect(ready.headers.get('retry-after')).toBeNull();
  });

  it('a validation still running when the wait ends: processing, with Retry-After in whole seconds, at least 1', async () => {
    const waiting = await startTestGateway({ config: { server: { challengeWaitMs: 50 } } });
    try {
      const client = await AcmeTestClient.withAccount(waiting);
      const release = waiting.validators.hold();
      const order = await client.newOrder(['slow-quick.example.com']);
      const authzUrl = order.body.authorizations[0] as string;
      const http01 = (await client.postAsGet(authzUrl)).body.challenges.find((x: { type: string }) => x.type === 'http-01');
      const answered = await client.respondChallenge(http01.url);
      expect(answered.body.status).toBe('processing');
      expect(answered.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      const authz = await client.postAsGet(authzUrl);
      expect(authz.body.status).toBe('pending');
      expect(authz.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      release();
      expect((await client.poll(authzUrl, (b) => b.status !== 'pending')).body.status).toBe('valid');
    } finally {
      await waiting.dispose();
    }
  });

  it('shutdown begins while a finalize waits for a slow issuance: it answers processing with Retry-After, and the issuance still ends valid', async () => {
    const stopping = await startTestGateway({ config: { server: { finalizeWaitMs: 20_000 } } });
    try {
      const client = await AcmeTestClient.withAccount(stopping);
      const order = await client.newOrder(['stopping.example.com']);
      await client.completeAuthorizations(order.body);
      await client.poll(order.location!, (b) => b.status === 'ready');
      // The sign call takes 2 s; the finalize would wait up to 20 s for it.
      stopping.gw.simulator!.faults.set({ latencyMs: 2_000, endpoints: ['sign'] });
      const answer = client.finalize(order.body.finalize, ['stopping.example.com']);
      await client.poll(order.location!, (b) => b.status === 'processing');
      stopping.gw.stopWaiting();
      const answered = await answer;
      expectJson(answered, 200);
      // Answered before the sign call came back: still processing, and told when to look again.
      expect(answered.body.status).toBe('processing');
      expect(answered.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      stopping.gw.simulator!.faults.set({});
      expect((await client.poll(order.location!, (b) => b.status !== 'processing', 15_000)).body.status).toBe('valid');
    } finally {
      await stopping.dispose();
    }
  });
});
