import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import type { EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';
import { accountWithKey, eabKeys } from './eab-support.js';
import { expectJson, expectProblem } from './expect.js';

// Pre-authorized scopes (issue 9 item 6) through the routes: an account whose EAB key carries a
// scope gets new authorizations for identifiers inside it already valid, with no challenge, where
// the directory has policy.preAuthorization; outside a scope, or where the switch is off, it gets
// the usual pending authorization. The issuance policy still refuses first. Each use is recorded
// in the database and logged.

const SCOPES = { suffixes: ['agents.corp.test', 'outside.test'], names: ['ci.corp.test', '*.build.corp.test'], cidrs: ['10.30.0.0/16'] };
const CONFIG = {
  policy: { preAuthorization: true, allowedSuffixes: ['corp.test'], allowedIpCidrs: ['10.0.0.0/8'], deniedNames: ['admin.agents.corp.test'] },
  directories: { plain: { policy: { allowedSuffixes: ['corp.test'] } } },
};

let t: TestGateway;
let service: EabKeyService;
const logLines: Array<Record<string, unknown>> = [];
beforeAll(async () => {
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  t = await startTestGateway({ config: CONFIG, overrides: { logger: createLogger({ level: 'info', destination }) } });
  service = eabKeys(t, systemClock);
});
afterAll(async () => t?.dispose());
beforeEach(() => t.validators.reset());

const agent = (opts: { directory?: string; scopes?: typeof SCOPES | null } = {}) =>
  accountWithKey(t, service, { ...(opts.directory ? { directory: opts.directory } : {}), extras: { preauthorizedScopes: opts.scopes === undefined ? SCOPES : opts.scopes } });

async function authzs(c: AcmeTestClient, order: { authorizations: string[] }) {
  return Promise.all(order.authorizations.map(async (u) => (await c.postAsGet(u)).body));
}

describe('pre-authorized scopes', () => {
  it('identifiers inside the scopes: the order is ready at once, its authorizations valid with no challenge, and it issues without any validation', async () => {
    const { c, kid } = await agent();
    const created = await c.newOrder(['ci-7.agents.corp.test', 'ci.corp.test', '*.build.corp.test', { type: 'ip', value: '10.30.1.2' }]);
    expectJson(created, 201);
    expect(created.body.status).toBe('ready');
    expect(created.headers.get('retry-after')).toBeNull();
    const all = await authzs(c, created.body);
    expect(all.map((a) => [a.identifier.value, a.status, a.challenges])).toEqual([
      ['ci-7.agents.corp.test', 'valid', []],
      ['ci.corp.test', 'valid', []],
      ['build.corp.test', 'valid', []],
      ['10.30.1.2', 'valid', []],
    ]);
    expect(all[2].wildcard).toBe(true);
    const fin = await c.finalize(created.body.finalize, ['ci-7.agents.corp.test', 'ci.corp.test', '*.build.corp.test', '10.30.1.2']);
    expectJson(fin, 200);
    expect((await c.poll(created.location!, (b) => b.status === 'valid', 15_000)).body.status).toBe('valid');
    expect(t.validators.calls).toEqual([]);

    // Recorded, one row per identifier, with the scope that covered it...
    const orderId = created.location!.split('/').pop();
    const uses = await t.gw.store.preauthorizations.listForKey(kid, 10);
    expect(uses.map((u) => [u.identifier.value, u.scope]).sort()).toEqual([
      ['10.30.1.2', 'cidr 10.30.0.0/16'],
      ['build.corp.test', 'name *.build.corp.test'],
      ['ci-7.agents.corp.test', 'suffix agents.corp.test'],
      ['ci.corp.test', 'name ci.corp.test'],
    ]);
    expect(uses.every((u) => u.orderId === orderId && u.eabKeyId === kid)).toBe(true);
    // ...and logged.
    const logged = logLines.filter((l) => l.orderId === orderId && /pre-authorized/.test(String(l.msg)));
    expect(logged.map((l) => [(l.identifier as { value: string }).value, l.eabKeyId, l.scope]).sort()).toEqual([
      ['10.30.1.2', kid, 'cidr 10.30.0.0/16'],
      ['build.corp.test', kid, 'name *.build.corp.test'],
      ['ci-7.agents.corp.test', kid, 'suffix agents.corp.test'],
      ['ci.corp.test', kid, 'name ci.corp.test'],
    ]);
  });

  it('a wildcard under a suffix scope is covered; the suffix itself too', async () => {
    const { c } = await agent();
    const created = await c.newOrder(['*.pool.agents.corp.test', 'agents.corp.test']);
    expectJson(created, 201);
    expect(created.body.status).toBe('ready');
  });

  it('outside the scopes: a normal pending authorization with its challenges; a mixed order is pending until the rest is validated', async () => {
    const { c, kid } = await agent();
    const outside = await c.newOrder(['web.corp.test']);
    expectJson(outside, 201);
    expect(outside.body.status).toBe('pending');
    const [authz] = await authzs(c, outside.body);
    expect(authz.status).toBe('pending');
    expect(authz.challenges.map((ch: { type: string }) => ch.type).sort()).toEqual(['dns-01', 'http-01', 'tls-alpn-01']);
    // An exact-name scope covers that name only, not the names under it or its wildcard.
    for (const name of ['x.ci.corp.test', '*.ci.corp.test', 'x.y.build.corp.test']) {
      expect((await c.newOrder([name])).body.status, name).toBe('pending');
    }

    const mixed = await c.newOrder(['b1.agents.corp.test', 'web2.corp.test']);
    expect(mixed.body.status).toBe('pending');
    expect((await authzs(c, mixed.body)).map((a) => a.status)).toEqual(['valid', 'pending']);
    await c.completeAuthorizations({ authorizations: [mixed.body.authorizations[1]] });
    expect((await c.poll(mixed.location!, (b) => b.status === 'ready')).body.status).toBe('ready');
    expect(t.validators.calls.map((v) => v.identifier.value)).toEqual(['web2.corp.test']);
    expect((await t.gw.store.preauthorizations.listForKey(kid, 10)).map((u) => u.identifier.value)).toEqual(['b1.agents.corp.test']);
  });

  it('the issuance policy still refuses first: a scope never widens it, and a refused order records no use', async () => {
    const { c, kid } = await agent();
    const denied = await c.newOrder(['admin.agents.corp.test']);
    expectProblem(denied, 'rejectedIdentifier', 400);
    expect(denied.body.detail).toMatch(/deniedNames of the default directory/);
    // A wildcard the suffix scope covers, but which would cover the denied name.
    expectProblem(await c.newOrder(['*.agents.corp.test']), 'rejectedIdentifier', 400);
    // "outside.test" is a scope of the key but not a suffix the directory allows.
    const outside = await c.newOrder(['h.outside.test']);
    expectProblem(outside, 'rejectedIdentifier', 400);
    expect(outside.body.detail).toMatch(/allowedSuffixes of the default directory/);
    expectProblem(await c.newOrder([{ type: 'ip', value: '192.168.1.1' }]), 'rejectedIdentifier', 400);
    expect(await t.gw.store.preauthorizations.listForKey(kid, 10)).toEqual([]);
  });

  it("the key's own policy narrows as well: a scope does not get past it", async () => {
    const { c } = await accountWithKey(t, service, { policy: { allowedSuffixes: ['ci.corp.test'] }, extras: { preauthorizedScopes: SCOPES } });
    const r = await c.newOrder(['ci-1.agents.corp.test']);
    expectProblem(r, 'rejectedIdentifier', 400);
    expect(r.body.detail).toMatch(/allowedSuffixes of EAB key/);
    expect((await c.newOrder(['ci.corp.test'])).body.status).toBe('ready');
  });

  it('switch off (a directory without policy.preAuthorization): the scopes are ignored', async () => {
    const { c, kid } = await agent({ directory: 'plain' });
    const r = await c.newOrder(['ci-7.agents.corp.test', 'ci.corp.test']);
    expectJson(r, 201, { index: t.urlIn('plain', 'directory') });
    expect(r.body.status).toBe('pending');
    expect((await authzs(c, r.body)).map((a) => [a.status, a.challenges.length])).toEqual([
      ['pending', 3],
      ['pending', 3],
    ]);
    expect(await t.gw.store.preauthorizations.listForKey(kid, 10)).toEqual([]);
  });

  it('a revoked key pre-authorizes nothing more; an account without a key or a key without scopes has none', async () => {
    const { c, kid } = await agent();
    expect((await c.newOrder(['r1.agents.corp.test'])).body.status).toBe('ready');
    expect(await service.revoke(kid)).toBe(true);
    expect((await c.newOrder(['r2.agents.corp.test'])).body.status).toBe('pending');

    const noScopes = await agent({ scopes: null });
    expect((await noScopes.c.newOrder(['r3.agents.corp.test'])).body.status).toBe('pending');
    const noKey = await AcmeTestClient.withAccount(t);
    expect((await noKey.newOrder(['r4.agents.corp.test'])).body.status).toBe('pending');
  });

  it('eab list shows how often and when last a key pre-authorized', async () => {
    const { c, kid } = await agent();
    await c.newOrder(['l1.agents.corp.test', 'l2.agents.corp.test']);
    const listed = (await service.list('default')).find((k) => k.id === kid)!;
    expect(listed.preauthorized?.count).toBe(2);
    expect(listed.preauthorized!.lastUsedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await service.uses(kid, 'default'))!.map((u) => u.identifier.value).sort()).toEqual(['l1.agents.corp.test', 'l2.agents.corp.test']);
    expect(await service.uses(kid, 'plain')).toBeNull();
  });
});
