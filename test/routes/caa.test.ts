import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../src/platform/clock.js';
import { startFakeDns, type FakeDnsServer, type Zone } from '../support/fake-dns.js';
import { AcmeTestClient, startTestGateway, URN, type TestGateway } from '../harness.js';
import { accountWithKey, eabKeys } from './eab-support.js';

// CAA at validation time (issue 9 item 4): with `caa:` configured, a challenge whose check succeeded
// is still invalid when the name's CAA records forbid this CA, with a `caa` problem (RFC 8555 §6.7,
// RFC 8659); a lookup failure makes it a `dns` problem. The challenge checkers are the harness's
// fakes (always valid); the CAA check is the real one, through the real resolver, against a fake
// DNS server on loopback.

let dns: FakeDnsServer;
let t: TestGateway;
let c: AcmeTestClient;
const zones = new Map<string, Zone>([
  ['allowed.caa.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }] }],
  ['forbidden.caa.test', { CAA: [{ tag: 'issue', value: 'letsencrypt.org' }] }],
  ['servfail.caa.test', { rcode: 2 }],
]);

beforeAll(async () => {
  dns = await startFakeDns(zones);
  t = await startTestGateway({ config: { caa: { issuerDomains: ['pki.corp.test'] }, validation: { dnsResolvers: [dns.server] } } });
  c = await AcmeTestClient.withAccount(t);
});
afterAll(async () => {
  await t?.dispose();
  await dns?.close();
});

async function validate(name: string, prefer = 'http-01') {
  const order = await c.newOrder([name]);
  expect(order.status, order.text).toBe(201);
  const [authz] = await c.completeAuthorizations(order.body, prefer);
  return authz!.body;
}

describe('CAA checked when a challenge succeeds', () => {
  it('CAA naming this CA: the authorization is valid', async () => {
    expect((await validate('www.allowed.caa.test')).status).toBe('valid');
  });

  it('CAA naming another CA: the challenge is invalid with a caa problem naming the records', async () => {
    const authz = await validate('www.forbidden.caa.test');
    expect(authz.status).toBe('invalid');
    const ch = authz.challenges.find((x: { status: string }) => x.status === 'invalid');
    expect(ch.error).toEqual({
      type: URN('caa'),
      status: 403,
      identifier: { type: 'dns', value: 'www.forbidden.caa.test' },
      detail: 'CAA records for forbidden.caa.test forbid issuance for www.forbidden.caa.test: no issue property allows this CA (pki.corp.test): issue "letsencrypt.org" names another CA',
    });
  });

  it('accounturi naming this account allows; another account is refused', async () => {
    zones.set('mine.caa.test', { CAA: [{ tag: 'issue', value: `pki.corp.test; accounturi=${c.kid}` }] });
    expect((await validate('mine.caa.test')).status).toBe('valid');
    const other = await AcmeTestClient.withAccount(t);
    const order = await other.newOrder(['mine.caa.test']);
    const [authz] = await other.completeAuthorizations(order.body);
    expect(authz!.body.status).toBe('invalid');
    expect(authz!.body.challenges.find((x: { status: string }) => x.status === 'invalid').error.detail).toContain(`(accounturi; this account is ${other.kid})`);
  });

  it('validationmethods: dns-01 listed, http-01 refused', async () => {
    zones.set('methods.caa.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test; validationmethods=dns-01' }] });
    expect((await validate('a.methods.caa.test', 'dns-01')).status).toBe('valid');
    expect((await validate('b.methods.caa.test', 'http-01')).status).toBe('invalid');
  });

  it('SERVFAIL on the CAA lookup: invalid with a dns problem', async () => {
    const authz = await validate('www.servfail.caa.test');
    expect(authz.status).toBe('invalid');
    const error = authz.challenges.find((x: { status: string }) => x.status === 'invalid').error;
    expect(error.type).toBe(URN('dns'));
    expect(error.detail).toContain('SERVFAIL looking up CAA for servfail.caa.test');
  });
});

describe('CAA checked again before signing', () => {
  it('an authorization validated longer ago than caa.recheckAfterSeconds is rechecked: forbidding CAA now ends the order invalid with caa; within the window it is not rechecked', async () => {
    const clock = new ManualClock(Date.now());
    const g = await startTestGateway({ config: { caa: { issuerDomains: ['pki.corp.test'], recheckAfterSeconds: 3600 } , validation: { dnsResolvers: [dns.server] } }, overrides: { clock } });
    try {
      const client = await AcmeTestClient.withAccount(g);
      zones.set('later.caa.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }] });
      zones.set('fresh.caa.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }] });
      const stale = await client.newOrder(['later.caa.test']);
      const fresh = await client.newOrder(['fresh.caa.test']);
      await client.completeAuthorizations(stale.body);
      await client.completeAuthorizations(fresh.body);
      // The names' owners move to another CA after validation.
      zones.set('later.caa.test', { CAA: [{ tag: 'issue', value: 'letsencrypt.org' }] });
      zones.set('fresh.caa.test', { CAA: [{ tag: 'issue', value: 'letsencrypt.org' }] });

      // Within the window: no recheck, the order is issued.
      const okFin = await client.finalize(fresh.body.finalize, ['fresh.caa.test']);
      expect(okFin.status, okFin.text).toBe(200);
      expect((await client.poll(fresh.location!, (b) => b.status !== 'processing', 15_000)).body.status).toBe('valid');

      // Past the window: rechecked before signing, refused.
      clock.advance(3601_000);
      const fin = await client.finalize(stale.body.finalize, ['later.caa.test']);
      expect(fin.status, fin.text).toBe(200);
      const done = await client.poll(stale.location!, (b) => b.status !== 'processing', 15_000);
      expect(done.body.status).toBe('invalid');
      expect(done.body.error).toMatchObject({ type: URN('caa'), status: 403, detail: expect.stringContaining('no issue property allows this CA (pki.corp.test)') });
      expect(done.body.certificate).toBeUndefined();
    } finally {
      await g.dispose();
    }
  });
});

describe('CAA for pre-authorized names (issue 9)', () => {
  it('no validation checked them, so they are checked before signing: allowed issues, forbidding CAA or a validationmethods list refuses with caa', async () => {
    const g = await startTestGateway({ config: { caa: { issuerDomains: ['pki.corp.test'] }, validation: { dnsResolvers: [dns.server] }, policy: { preAuthorization: true } } });
    try {
      const { c: agent } = await accountWithKey(g, eabKeys(g, systemClock), { extras: { preauthorizedScopes: { suffixes: ['pre.caa.test'] } } });
      zones.set('ok.pre.caa.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test' }] });
      zones.set('no.pre.caa.test', { CAA: [{ tag: 'issue', value: 'letsencrypt.org' }] });
      zones.set('methods.pre.caa.test', { CAA: [{ tag: 'issue', value: 'pki.corp.test; validationmethods=http-01,dns-01' }] });
      const outcome = async (name: string) => {
        const order = await agent.newOrder([name]);
        expect(order.body.status, order.text).toBe('ready');
        expect((await agent.finalize(order.body.finalize, [name])).status).toBe(200);
        return (await agent.poll(order.location!, (b) => b.status !== 'processing', 15_000)).body;
      };
      expect((await outcome('ok.pre.caa.test')).status).toBe('valid');
      const forbidden = await outcome('no.pre.caa.test');
      expect(forbidden).toMatchObject({ status: 'invalid', error: { type: URN('caa'), detail: expect.stringContaining('issue "letsencrypt.org" names another CA') } });
      const methods = await outcome('methods.pre.caa.test');
      expect(methods).toMatchObject({ status: 'invalid', error: { type: URN('caa'), detail: expect.stringContaining('the name was pre-authorized without one') } });
    } finally {
      await g.dispose();
    }
  });
});
