import { createHmac, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuanceRules } from '../../src/acme/issuance-policy.js';
import { eabKekPath } from '../../src/config/paths.js';
import { systemClock } from '../../src/platform/clock.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, EXTERNAL_URL, handmadeJws, startTestGateway, URN, type CsrOptions, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// Issue 9: the issuance policy at the routes, one rule at a time, allowed and refused, with the exact
// problem (RFC 8555 §6.7: rejectedIdentifier with one subproblem per refused identifier at newOrder,
// badCSR at finalize, malformed for a notAfter past the limit), and an EAB key narrowing it.
// The default directory holds the name rules; each named directory one more rule.

let t: TestGateway;
let eab: EabKeyService;

const dirUrl = (name: string) => `${EXTERNAL_URL}/${name}/directory`;
const sim = (caTag: string) => ({ kind: 'simulator', caTag });

beforeAll(async () => {
  t = await startTestGateway({
    config: {
      policy: {
        allowedSuffixes: ['corp.test'],
        allowedNames: ['partner.example.net'],
        deniedNames: ['admin.corp.test', '.internal.corp.test'],
        allowedIpCidrs: ['10.20.0.0/16'],
        maxIdentifiers: 3,
      },
      directories: {
        nowild: { pca: sim('nowild-ca'), policy: { wildcards: false } },
        dnsonly: { pca: sim('dnsonly-ca'), policy: { allowedChallenges: ['dns-01'] } },
        keys: { pca: sim('keys-ca'), policy: { keyTypes: ['ecdsa-p256', 'rsa2048', 'rsa4096'], minRsaBits: 3072 } },
        short: { pca: sim('short-ca'), policy: { maxValidityDays: 7 } },
        team: { pca: sim('team-ca'), policy: { allowedSuffixes: ['team.test'] } },
      },
    },
  });
  eab = new EabKeyService(t.gw.store, EabKeySealer.fromFile(eabKekPath(t.gw.config)), systemClock, cryptoRandom);
});
afterAll(async () => t?.dispose());

const dns = (value: string) => ({ type: 'dns', value });
const ip = (value: string) => ({ type: 'ip', value });
const sub = (identifier: { type: string; value: string }, detail: string) => ({ type: URN('rejectedIdentifier'), status: 400, detail, identifier });

async function client(directory?: string) {
  return AcmeTestClient.withAccount(t, 'ES256', directory);
}

/** An order made ready (every authorization valid through the fake validators). */
async function readyOrder(c: AcmeTestClient, names: string[]) {
  const created = await c.newOrder(names);
  expect(created.status, created.text).toBe(201);
  await c.completeAuthorizations(created.body, 'dns-01');
  const ready = await c.poll(created.location!, (b) => b.status === 'ready');
  expect(ready.body.status).toBe('ready');
  return { url: created.location!, finalize: created.body.finalize as string };
}

/** The leaf's days of validity from now. */
async function daysOfValidity(c: AcmeTestClient, orderUrl: string): Promise<number> {
  const order = await c.poll(orderUrl, (b) => b.status === 'valid', 15_000);
  const pem = (await c.download(order.body.certificate)).text;
  const leaf = new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
  return (new Date(leaf.validTo).getTime() - Date.now()) / 86_400_000;
}

describe('names: allowedSuffixes, allowedNames, deniedNames (default directory)', () => {
  let c: AcmeTestClient;
  beforeAll(async () => {
    c = await client();
  });

  it('names under an allowed suffix, the suffix itself and an allowed exact name → 201', async () => {
    expectJson(await c.newOrder(['api.corp.test', 'corp.test', 'partner.example.net']), 201);
  });

  it('a name under no allowed suffix → rejectedIdentifier, one subproblem naming allowedSuffixes', async () => {
    const res = await c.newOrder(['api.corp.test', 'evil.example.com']);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.detail).toBe(
      'the issuance policy refuses "evil.example.com": the name is under none of corp.test nor an allowed name (allowedSuffixes of the default directory)',
    );
    expect(res.body.subproblems).toEqual([sub(dns('evil.example.com'), 'the name is under none of corp.test nor an allowed name (allowedSuffixes of the default directory)')]);
  });

  it('an allowed exact name allows only itself', async () => {
    const res = await c.newOrder(['www.partner.example.net']);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.subproblems.map((s: { identifier: unknown }) => s.identifier)).toEqual([dns('www.partner.example.net')]);
  });

  it('deniedNames: an exact name, a subtree, and a wildcard covering a denied name → one subproblem each', async () => {
    const res = await c.newOrder(['admin.corp.test', 'db.internal.corp.test', '*.corp.test']);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.detail).toBe(
      'the issuance policy refuses 3 identifiers: "admin.corp.test" (deniedNames of the default directory), "db.internal.corp.test" (deniedNames of the default directory), "*.corp.test" (deniedNames of the default directory)',
    );
    expect(res.body.subproblems).toEqual([
      sub(dns('admin.corp.test'), 'the name is denied (deniedNames of the default directory)'),
      sub(dns('db.internal.corp.test'), 'the name is covered by the denied entry ".internal.corp.test" (deniedNames of the default directory)'),
      sub(dns('*.corp.test'), 'the name is covered by the denied entry "admin.corp.test" (deniedNames of the default directory)'),
    ]);
    // Names next to the denied ones stay allowed.
    expectJson(await c.newOrder(['www.corp.test', 'internal-tools.corp.test', '*.api.corp.test']), 201);
  });

  it('allowedIpCidrs: an address in a range → 201; outside → rejectedIdentifier with the ip identifier', async () => {
    expectJson(await c.newOrder([ip('10.20.3.4')]), 201);
    const res = await c.newOrder([ip('10.21.0.1'), ip('10.20.0.9')]);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.subproblems).toEqual([sub(ip('10.21.0.1'), 'the address is in none of 10.20.0.0/16 (allowedIpCidrs of the default directory)')]);
  });

  it('maxIdentifiers: 3 → 201, 4 → rejectedIdentifier naming the limit (no identifier is at fault, so no subproblems)', async () => {
    expectJson(await c.newOrder(['a.corp.test', 'b.corp.test', 'c.corp.test']), 201);
    const res = await c.newOrder(['a.corp.test', 'b.corp.test', 'c.corp.test', 'd.corp.test']);
    expectProblem(res, 'rejectedIdentifier', 400);
    expect(res.body.detail).toBe('the order has 4 identifiers; at most 3 are allowed in one order (maxIdentifiers of the default directory)');
    expect(res.body).not.toHaveProperty('subproblems');
    // Duplicates are dropped before counting (interop item 18).
    expectJson(await c.newOrder(['a.corp.test', 'A.corp.test', 'b.corp.test', 'c.corp.test']), 201);
  });

  it('syntax problems still come first, as before the policy', async () => {
    expectProblem(await c.newOrder(['bad_name.corp.test']), 'rejectedIdentifier', 400);
    expect((await c.newOrder(['bad_name.corp.test'])).body.detail).toBe('"bad_name.corp.test" is not a valid DNS name');
  });
});

describe('wildcards: false', () => {
  it('a name → 201; a wildcard → rejectedIdentifier naming the rule', async () => {
    const c = await client('nowild');
    expectJson(await c.newOrder(['x.nowild.test']), 201, { index: dirUrl('nowild') });
    const res = await c.newOrder(['x.nowild.test', '*.nowild.test']);
    expectProblem(res, 'rejectedIdentifier', 400, { index: dirUrl('nowild') });
    expect(res.body.subproblems).toEqual([sub(dns('*.nowild.test'), 'wildcard identifiers are not allowed (wildcards of directory "nowild")')]);
  });
});

describe('allowedChallenges', () => {
  it('newOrder offers only the allowed types; an identifier none of them can validate is refused', async () => {
    const c = await client('dnsonly');
    const created = await c.newOrder(['a.dnsonly.test', '*.dnsonly.test']);
    expectJson(created, 201, { index: dirUrl('dnsonly') });
    for (const authzUrl of created.body.authorizations as string[]) {
      expect((await c.postAsGet(authzUrl)).body.challenges.map((ch: { type: string }) => ch.type)).toEqual(['dns-01']);
    }
    const res = await c.newOrder([ip('192.0.2.1')]);
    expectProblem(res, 'rejectedIdentifier', 400, { index: dirUrl('dnsonly') });
    expect(res.body.subproblems).toEqual([
      sub(ip('192.0.2.1'), 'it can be validated only with http-01 or tls-alpn-01, which the policy does not offer (allowedChallenges of directory "dnsonly": dns-01)'),
    ]);
  });

  it('the default directory still offers every type', async () => {
    const c = await client();
    const created = await c.newOrder(['offers.corp.test']);
    const authz = await c.postAsGet(created.body.authorizations[0]);
    expect(authz.body.challenges.map((ch: { type: string }) => ch.type)).toEqual(['http-01', 'dns-01', 'tls-alpn-01']);
  });
});

describe('keyTypes and minRsaBits at finalize', () => {
  const finalizeWith = async (keyType: CsrOptions['keyType']) => {
    const c = await client('keys');
    const order = await readyOrder(c, ['k.keys.test']);
    return { c, order, res: await c.finalize(order.finalize, ['k.keys.test'], { keyType }) };
  };

  it('an allowed key type → the order is finalized', async () => {
    const { res } = await finalizeWith('P256');
    expectJson(res, 200, { index: dirUrl('keys') });
    expect(['processing', 'valid']).toContain(res.body.status);
  });

  it('a key type not listed → badCSR naming keyTypes; the order stays ready', async () => {
    const { c, order, res } = await finalizeWith('P384');
    expectProblem(res, 'badCSR', 400, { index: dirUrl('keys') });
    expect(res.body.detail).toBe('key type ecdsa-p384 is not allowed (keyTypes of directory "keys": ecdsa-p256, rsa2048, rsa4096)');
    expect((await c.postAsGet(order.url)).body.status).toBe('ready');
  });

  it('an RSA key below minRsaBits → badCSR naming minRsaBits', async () => {
    const { res } = await finalizeWith('RSA2048');
    expectProblem(res, 'badCSR', 400, { index: dirUrl('keys') });
    expect(res.body.detail).toBe('an RSA key of 2048 bits is too short: at least 3072 (minRsaBits of directory "keys")');
  });
});

describe('maxValidityDays', () => {
  it('a notAfter within it → 201; past it → malformed naming the limit; the certificate never outlives it', async () => {
    const c = await client('short');
    const in7 = new Date(Date.now() + 7 * 86_400_000 - 60_000).toISOString();
    expectJson(await c.newOrder(['n.short.test'], { notAfter: in7 }), 201, { index: dirUrl('short') });
    const late = await c.newOrder(['n.short.test'], { notAfter: new Date(Date.now() + 8 * 86_400_000).toISOString() });
    expectProblem(late, 'malformed', 400, { index: dirUrl('short') });
    expect(late.body.detail).toBe('notAfter is 8 days away; this server issues for at most 7 days (maxValidityDays of directory "short")');
    // No notAfter asked: the PCA is asked for 7 days, not the directory's pca.period (90).
    const order = await readyOrder(c, ['v.short.test']);
    expectJson(await c.finalize(order.finalize, ['v.short.test']), 200, { index: dirUrl('short') });
    const days = await daysOfValidity(c, order.url);
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7.01);
  });
});

describe('an EAB key narrows its directory\'s policy, never widens it', () => {
  /** An account in directory "team" bound to a fresh EAB key with these rules. */
  async function boundClient(rules: IssuanceRules | null) {
    const minted = await eab.create('team', 'route test', null, rules);
    const c = await AcmeTestClient.create(t, 'ES256', 'team');
    const key = Buffer.from(minted.hmacKey, 'base64url');
    const binding = handmadeJws({ alg: 'HS256', kid: minted.keyId, url: c.url('newAccount') }, c.key.publicJwk, (input) => createHmac('sha256', key).update(input).digest());
    expectJson(await c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding }), 201, { index: dirUrl('team') });
    return { c, kid: minted.keyId };
  }

  it('the key\'s rules refuse what the directory allows, and the refusal names the key', async () => {
    const { c, kid } = await boundClient({ allowedNames: ['api.team.test'], wildcards: false, keyTypes: ['ecdsa-p256'], maxValidityDays: 3 });
    const ok = await c.newOrder(['api.team.test']);
    expectJson(ok, 201, { index: dirUrl('team') });
    // The order keeps which key's policy applied (the account's eabKeyId).
    expect((await t.gw.store.orders.get(ok.location!.split('/').pop()!))!.eabKeyId).toBe(kid);

    const res = await c.newOrder(['web.team.test', '*.team.test', 'x.other.test']);
    expectProblem(res, 'rejectedIdentifier', 400, { index: dirUrl('team') });
    expect(res.body.subproblems).toEqual([
      sub(dns('web.team.test'), `the name is not one of the allowed names (allowedNames of EAB key ${kid})`),
      sub(dns('*.team.test'), `wildcard identifiers are not allowed (wildcards of EAB key ${kid})`),
      sub(dns('x.other.test'), 'the name is under none of team.test (allowedSuffixes of directory "team")'),
    ]);
    const late = await c.newOrder(['api.team.test'], { notAfter: new Date(Date.now() + 4 * 86_400_000).toISOString() });
    expect(late.body.detail).toBe(`notAfter is 4 days away; this server issues for at most 3 days (maxValidityDays of EAB key ${kid})`);

    const order = await readyOrder(c, ['api.team.test']);
    const p384 = await c.finalize(order.finalize, ['api.team.test'], { keyType: 'P384' });
    expectProblem(p384, 'badCSR', 400, { index: dirUrl('team') });
    expect(p384.body.detail).toBe(`key type ecdsa-p384 is not allowed (keyTypes of EAB key ${kid}: ecdsa-p256)`);
    expectJson(await c.finalize(order.finalize, ['api.team.test']), 200, { index: dirUrl('team') });
    expect(await daysOfValidity(c, order.url)).toBeLessThanOrEqual(3.01);
  });

  it('a key allowing more than the directory gets only the directory\'s', async () => {
    const { c } = await boundClient({ allowedSuffixes: ['other.test', 'team.test'] });
    expectJson(await c.newOrder(['a.team.test']), 201, { index: dirUrl('team') });
    const res = await c.newOrder(['a.other.test']);
    expectProblem(res, 'rejectedIdentifier', 400, { index: dirUrl('team') });
    expect(res.body.subproblems[0].detail).toBe('the name is under none of team.test (allowedSuffixes of directory "team")');
  });

  it('a key without rules, and an account without a key, get the directory\'s policy', async () => {
    const { c } = await boundClient(null);
    expectJson(await c.newOrder(['*.team.test', 'b.team.test']), 201, { index: dirUrl('team') });
    const plain = await client('team');
    expectJson(await plain.newOrder(['*.team.test']), 201, { index: dirUrl('team') });
  });
});

describe('the policy applies at finalize as it is then', () => {
  it('a policy tightened by a restart refuses an order made before it, at finalize', async () => {
    const before = await startTestGateway();
    const c = await AcmeTestClient.withAccount(before);
    const created = await c.newOrder(['later.example.com']);
    await c.completeAuthorizations(created.body);
    await before.close();
    const after = await startTestGateway({ dir: before.dir, ...(before.database ? { database: before.database } : {}), config: { policy: { allowedSuffixes: ['corp.test'] } } });
    try {
      const again = new AcmeTestClient(after, c.key);
      again.kid = c.kid;
      const res = await again.finalize(created.body.finalize, ['later.example.com']);
      expectProblem(res, 'rejectedIdentifier', 400);
      expect(res.body.subproblems).toEqual([sub(dns('later.example.com'), 'the name is under none of corp.test (allowedSuffixes of the default directory)')]);
    } finally {
      await after.dispose();
    }
  });
});
