import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// Issue 9: an ip identifier the validator's address policy denies is refused at newOrder with
// rejectedIdentifier naming the address and the rule, so no authorization points the validator at
// the metadata service or the gateway's own host. Private ranges stay allowed (internal services).
// The harness runs in trial mode (pca.kind simulator): 127.0.0.1 and ::1 are allowed there.

let t: TestGateway;
let c: AcmeTestClient;
beforeAll(async () => {
  t = await startTestGateway();
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => t?.dispose());

describe('POST /new-order with ip identifiers and the address policy', () => {
  it.each([
    ['169.254.169.254', '169.254.169.254 is in 169.254.0.0/16 (link-local (cloud metadata), denied by default): the validation address policy does not allow it'],
    ['0.0.0.0', '0.0.0.0 is in 0.0.0.0/8 (unspecified ("this host"), denied by default): the validation address policy does not allow it'],
    ['::ffff:169.254.169.254', '::ffff:169.254.169.254 is in 169.254.0.0/16 (link-local (cloud metadata), denied by default): the validation address policy does not allow it'],
    ['127.0.0.2', '127.0.0.2 is in 127.0.0.0/8 (loopback, denied by default): the validation address policy does not allow it'],
    ['fe80::1', 'fe80::1 is in fe80::/10 (link-local, denied by default): the validation address policy does not allow it'],
  ])('%s → 400 rejectedIdentifier naming the rule', async (ip, detail) => {
    const res = await c.newOrder([{ type: 'ip', value: ip }]);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.detail).toBe(detail);
    expect(res.body.identifier).toEqual({ type: 'ip', value: ip });
  });

  it('several refused identifiers: one subproblem each, the allowed name not among them', async () => {
    const res = await c.newOrder([{ type: 'ip', value: '169.254.169.254' }, 'fine.example.com', { type: 'ip', value: '0.0.0.0' }]);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.subproblems).toEqual([
      expect.objectContaining({ type: 'urn:ietf:params:acme:error:rejectedIdentifier', identifier: { type: 'ip', value: '169.254.169.254' } }),
      expect.objectContaining({ type: 'urn:ietf:params:acme:error:rejectedIdentifier', identifier: { type: 'ip', value: '0.0.0.0' } }),
    ]);
  });

  it.each(['10.0.0.1', '192.0.2.7', '127.0.0.1', '::1'])('%s is accepted (private range, or trial loopback)', async (ip) => {
    const res = await c.newOrder([{ type: 'ip', value: ip }]);
    expectJson(res, 201);
    expect(res.body.identifiers).toEqual([{ type: 'ip', value: ip }]);
  });
});

describe('the address policy from validation.allowedCidrs / deniedCidrs', () => {
  let t2: TestGateway;
  let c2: AcmeTestClient;
  beforeAll(async () => {
    t2 = await startTestGateway({ config: { validation: { deniedCidrs: ['10.0.0.0/8'], allowedCidrs: ['10.20.0.0/16'] } } });
    c2 = await AcmeTestClient.withAccount(t2);
  });
  afterAll(async () => t2?.dispose());

  it('deniedCidrs refuses 10.0.0.1 naming the key; the longer allowedCidrs range opens 10.20.x.x', async () => {
    const refused = await c2.newOrder([{ type: 'ip', value: '10.0.0.1' }]);
    expectProblem(refused, 'rejectedIdentifier', 400);
    expect(refused.body.detail).toBe('10.0.0.1 is in 10.0.0.0/8 (validation.deniedCidrs): the validation address policy does not allow it');
    expectJson(await c2.newOrder([{ type: 'ip', value: '10.20.3.4' }]), 201);
  });
});
