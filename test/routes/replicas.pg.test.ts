import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// Two gateways on one PostgreSQL database, as two replicas behind a load balancer would be (each
// with its own job runner and its own embedded PCA simulator): a client's requests may land on
// either, and the pair behaves as one gateway (issue 12). The multi-process e2e with HAProxy and
// real clients is the lead's; this is the same promise through app.request().

let r1: TestGateway;
let r2: TestGateway;
beforeAll(async () => {
  r1 = await startTestGateway({ store: 'postgres' });
  r2 = await startTestGateway({ store: 'postgres', database: r1.database! });
});
afterAll(async () => {
  await r2?.close();
  await r1?.dispose(); // drops the shared database
  await r2?.dispose().catch(() => undefined);
});

/** The same account key talking to the other replica. */
function onOther(c: AcmeTestClient, t: TestGateway): AcmeTestClient {
  const other = new AcmeTestClient(t, c.key);
  other.kid = c.kid;
  return other;
}

describe('two replicas on one PostgreSQL database', () => {
  it('a nonce from one replica is accepted by the other, and only once', async () => {
    const a = await AcmeTestClient.withAccount(r1);
    const b = onOther(a, r2);
    const nonce = await a.nonce();
    expectJson(await b.postAsGet(a.kid!, { nonce }), 200);
    expectProblem(await a.postAsGet(a.kid!, { nonce }), 'badNonce', 400);
    expectProblem(await b.postAsGet(a.kid!, { nonce }), 'badNonce', 400);
  });

  it('an order made on one replica is validated, finalized and downloaded on the other', async () => {
    const a = await AcmeTestClient.withAccount(r1);
    const b = onOther(a, r2);
    const created = await a.newOrder(['hop.example.com']);
    expect(created.status).toBe(201);
    await b.completeAuthorizations(created.body);
    const ready = await a.poll(created.location!, (o) => o.status === 'ready');
    expect(ready.body.status).toBe('ready');
    const fin = await b.finalize(ready.body.finalize, ['hop.example.com']);
    expect(fin.status).toBe(200);
    const valid = await a.poll(created.location!, (o) => o.status === 'valid', 15_000);
    expect(valid.body.status).toBe('valid');
    const fromR1 = await a.download(valid.body.certificate);
    const fromR2 = await b.download(valid.body.certificate);
    expect(fromR1.status).toBe(200);
    expect(fromR2.text).toBe(fromR1.text);
  });

  it('the same order finalized on both replicas at once: one goes ahead, the other gets orderNotReady (RFC 8555 §7.4)', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await AcmeTestClient.withAccount(r1);
      const b = onOther(a, r2);
      const name = `race${round}.example.com`;
      const created = await a.newOrder([name]);
      await a.completeAuthorizations(created.body);
      const ready = await a.poll(created.location!, (o) => o.status === 'ready');
      const results = await Promise.all([a.finalize(ready.body.finalize, [name]), b.finalize(ready.body.finalize, [name])]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 403]);
      expectProblem(results.find((r) => r.status === 403)!, 'orderNotReady', 403);
      const done = await a.poll(created.location!, (o) => o.status === 'valid' || o.status === 'invalid', 15_000);
      expect(done.body.status).toBe('valid');
    }
  });
});
