import { afterAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// State lives in SQLite: accounts, orders, certificates and the nonce key survive a restart.

let t: TestGateway;
afterAll(async () => t?.dispose());

describe('restart on the same SQLite file', () => {
  it('keeps the account, its orders and certificates, and accepts nonces issued before', async () => {
    t = await startTestGateway();
    const c = await AcmeTestClient.withAccount(t);
    const issued = await c.issue(['restart.example.com']);
    const pending = await c.newOrder(['restart-pending.example.com']);
    const nonceBefore = await c.nonce();
    const chainBefore = (await c.download(issued.certUrl)).text;

    t = await t.restart();
    const again = new AcmeTestClient(t, c.key);
    const acct = await again.newAccount();
    expectJson(acct, 200);
    expect(acct.location).toBe(c.kid);

    const order = await again.postAsGet(issued.orderUrl, { nonce: nonceBefore });
    expectJson(order, 200);
    expect(order.body.status).toBe('valid');
    expect(order.body.certificate).toBe(issued.certUrl);
    expect((await again.download(issued.certUrl)).text).toBe(chainBefore);
    // A nonce redeemed before or after the restart stays redeemed.
    expectProblem(await again.postAsGet(issued.orderUrl, { nonce: nonceBefore }), 'badNonce', 400);

    const stillPending = await again.postAsGet(pending.location!);
    expectJson(stillPending, 200);
    expect(stillPending.body.status).toBe('pending');
    // ...and can be completed by the new process.
    const done = await again.completeAuthorizations(stillPending.body);
    expect(done[0]!.body.status).toBe('valid');
    expect((await again.postAsGet(pending.location!)).body.status).toBe('ready');
  });
});
