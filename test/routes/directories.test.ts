import { createHmac, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eabKekPath } from '../../src/config/paths.js';
import { cryptoRandom } from '../../src/platform/random.js';
import { systemClock } from '../../src/platform/clock.js';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { EabKeyService } from '../../src/services/eab-keys.js';
import { AcmeTestClient, EXTERNAL_URL, handmadeJws, readResponse, startTestGateway, type TestGateway } from '../harness.js';
import { expectJson, expectProblem } from './expect.js';

// Issue 9: several directories in one gateway. Each is served under its own name with its own PCA
// (here two more CAs of the embedded simulator), and its accounts, orders, authorizations, EAB keys
// and certificates are its own: nothing of one is reachable through another's URLs.

let t: TestGateway;
let eab: EabKeyService;
const PAYMENTS = `${EXTERNAL_URL}/payments/directory`;
const PLATFORM = `${EXTERNAL_URL}/platform/directory`;

beforeAll(async () => {
  t = await startTestGateway({
    config: {
      directories: {
        payments: { pca: { kind: 'simulator', caTag: 'payments-ca', period: 30 }, policy: { allowedSuffixes: ['payments.corp.test'] } },
        platform: { pca: { kind: 'simulator', caTag: 'platform-ca' }, acme: { externalAccountRequired: true } },
      },
    },
  });
  eab = new EabKeyService(t.gw.store, EabKeySealer.fromFile(eabKekPath(t.gw.config)), systemClock, cryptoRandom);
});
afterAll(async () => t?.dispose());

/** An EAB binding (RFC 8555 §7.3.4) of `client`'s key with a key minted for `directory`, addressed to `newAccountUrl`. */
async function binding(client: AcmeTestClient, directory: string, newAccountUrl: string) {
  const minted = await eab.create(directory, 'route test', null);
  const key = Buffer.from(minted.hmacKey, 'base64url');
  return { kid: minted.keyId, jws: handmadeJws({ alg: 'HS256', kid: minted.keyId, url: newAccountUrl }, client.key.publicJwk, (input) => createHmac('sha256', key).update(input).digest()) };
}

/** Whether the chain (leaf first) ends in a certificate signed by `rootPem`. */
function chainsTo(fullchain: string, rootPem: string): boolean {
  const certs = (fullchain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
  for (let i = 0; i < certs.length - 1; i++) if (!certs[i]!.verify(certs[i + 1]!.publicKey)) return false;
  return certs.at(-1)!.verify(new X509Certificate(rootPem).publicKey);
}

describe('directories: each served under its name', () => {
  it('GET /<name>/directory lists that directory\'s URLs and its own meta; Link rel="index" names it', async () => {
    const res = await readResponse(await t.request('/payments/directory'));
    expectJson(res, 200, { nonce: false, index: PAYMENTS });
    expect(res.body).toMatchObject({
      newNonce: `${EXTERNAL_URL}/payments/new-nonce`,
      newAccount: `${EXTERNAL_URL}/payments/new-account`,
      newOrder: `${EXTERNAL_URL}/payments/new-order`,
      revokeCert: `${EXTERNAL_URL}/payments/revoke-cert`,
      keyChange: `${EXTERNAL_URL}/payments/key-change`,
      renewalInfo: `${EXTERNAL_URL}/payments/renewal-info`,
      meta: { externalAccountRequired: false },
    });
    const platform = await readResponse(await t.request('/platform/directory'));
    expect(platform.body.meta.externalAccountRequired).toBe(true);
    const main = await readResponse(await t.request('/directory'));
    expectJson(main, 200, { nonce: false });
    expect(main.body.newOrder).toBe(`${EXTERNAL_URL}/new-order`);
    // A named directory's newNonce answers with a nonce like the default one (RFC 8555 §7.2).
    const nonce = await readResponse(await t.request('/payments/new-nonce', { method: 'HEAD' }));
    expect(nonce.status).toBe(200);
    expect(nonce.nonce).toBeTruthy();
    expect(nonce.links).toContainEqual({ url: PAYMENTS, rel: 'index' });
    // The old /d/<name> prefix is gone.
    expect((await t.request('/d/payments/directory')).status).toBe(404);
  });

  it('the gateway lists every directory with its URL and root', () => {
    expect(t.gw.directories.map((d) => [d.name, d.url])).toEqual([
      ['default', `${EXTERNAL_URL}/directory`],
      ['payments', PAYMENTS],
      ['platform', PLATFORM],
    ]);
    expect(t.gw.directories[1]!.rootPemPath).toBe(t.gw.simulator!.ca('payments-ca')!.rootPemPath);
    expect(t.gw.directories[1]!.trustAnchorPems()).toEqual([t.gw.simulator!.ca('payments-ca')!.rootPem]);
  });
});

describe('directories: accounts and EAB keys belong to their directory', () => {
  it('a kid of one directory is unknown in another → accountDoesNotExist, both ways', async () => {
    const main = await AcmeTestClient.withAccount(t);
    const payments = await AcmeTestClient.withAccount(t, 'ES256', 'payments');
    expect(payments.kid).toMatch(new RegExp(`^${EXTERNAL_URL}/payments/acct/[A-Za-z0-9_-]+$`));
    const mainInPayments = await main.post(payments.url('newOrder'), { identifiers: [{ type: 'dns', value: 'a.payments.corp.test' }] });
    expectProblem(mainInPayments, 'accountDoesNotExist', 400, { index: PAYMENTS });
    const paymentsInMain = await payments.post(main.url('newOrder'), { identifiers: [{ type: 'dns', value: 'a.example.com' }] });
    expectProblem(paymentsInMain, 'accountDoesNotExist', 400);
    // The same key makes a separate account in each directory.
    const again = new AcmeTestClient(t, main.key, 'payments');
    const created = await again.newAccount();
    expectJson(created, 201, { index: PAYMENTS });
    expect(again.kid).not.toBe(main.kid);
    // onlyReturnExisting finds the account only in its own directory (RFC 8555 §7.3.1).
    const lookup = new AcmeTestClient(t, payments.key, 'platform');
    expectProblem(await lookup.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist', 400, { index: PLATFORM });
  });

  it('an EAB key of one directory is refused in another; in its own it creates the account', async () => {
    const c = await AcmeTestClient.create(t, 'ES256', 'platform');
    const foreign = await binding(c, 'payments', c.url('newAccount'));
    const refused = await c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: foreign.jws });
    expectProblem(refused, 'unauthorized', 403, { index: PLATFORM });
    expect(refused.body.detail).toBe('unknown external account key id');
    const own = await binding(c, 'platform', c.url('newAccount'));
    expectJson(await c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: own.jws }), 201, { index: PLATFORM });
    expect((await t.gw.store.eabKeys.get(own.kid))!.boundAccountId).toBe(c.kid!.split('/').pop());
    expect((await t.gw.store.eabKeys.get(foreign.kid))!.boundAccountId).toBeNull();
    // externalAccountRequired is the directory's: platform requires it, payments does not.
    expectProblem(await (await AcmeTestClient.create(t, 'ES256', 'platform')).newAccount(), 'externalAccountRequired', 400, { index: PLATFORM });
  });
});

describe('directories: orders, authorizations, challenges and certificates are not reachable across', () => {
  let payments: AcmeTestClient;
  let main: AcmeTestClient;
  let issued: { orderUrl: string; order: any; certUrl: string };

  beforeAll(async () => {
    payments = await AcmeTestClient.withAccount(t, 'ES256', 'payments');
    main = await AcmeTestClient.withAccount(t);
    issued = await payments.issue(['web.payments.corp.test']);
  });

  it('an order of one directory lives under its URLs and is issued by its own CA', async () => {
    expect(issued.orderUrl).toMatch(new RegExp(`^${EXTERNAL_URL}/payments/order/`));
    expect(issued.certUrl).toMatch(new RegExp(`^${EXTERNAL_URL}/payments/cert/`));
    for (const a of issued.order.authorizations as string[]) expect(a).toMatch(new RegExp(`^${EXTERNAL_URL}/payments/authz/`));
    const pem = (await payments.download(issued.certUrl)).text;
    expect(chainsTo(pem, t.gw.simulator!.ca('payments-ca')!.rootPem)).toBe(true);
    expect(chainsTo(pem, t.gw.simulator!.rootPem)).toBe(false);
    expect(chainsTo(pem, t.gw.simulator!.ca('platform-ca')!.rootPem)).toBe(false);
    // Its PCA is the payments CA of the simulator, asked for the directory's period (30 days).
    const leaf = new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeLessThanOrEqual(30 * 86_400_000 + 60_000);
    const byCa = async (tag: string) => (await (await fetch(`${t.gw.simulator!.url}/_simulator/issued?caTag=${tag}`)).json()) as unknown[];
    expect(await byCa('payments-ca')).toHaveLength(1);
    expect(await byCa('platform-ca')).toHaveLength(0);
  });

  it("another directory's account reading it through its own URLs (same ids) gets 404", async () => {
    const orderId = issued.orderUrl.split('/').pop()!;
    const certId = issued.certUrl.split('/').pop()!;
    const authzId = (issued.order.authorizations[0] as string).split('/').pop()!;
    const challengeId = ((await payments.postAsGet(issued.order.authorizations[0])).body.challenges[0].url as string).split('/').pop()!;
    for (const [url, what] of [
      [main.url('order', orderId), 'no such order'],
      [main.url('certificate', certId), 'no such certificate'],
      [main.url('authz', authzId), 'no such authorization'],
      [main.url('challenge', challengeId), 'no such challenge'],
    ] as const) {
      const res = await main.postAsGet(url);
      expectProblem(res, 'malformed', 404);
      expect(res.body.detail).toBe(what);
    }
    // …and through the owner's URLs its kid is unknown there.
    expectProblem(await main.postAsGet(issued.orderUrl), 'accountDoesNotExist', 400, { index: PAYMENTS });
  });

  it("revocation and renewal information know only their directory's certificates", async () => {
    const pem = (await payments.download(issued.certUrl)).text;
    const der = new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]).raw;
    const revoke = await main.post(main.url('revokeCert'), { certificate: der.toString('base64url') });
    expectProblem(revoke, 'malformed', 404);
    const cert = (await t.gw.store.certificates.get(issued.certUrl.split('/').pop()!))!;
    const serial = cert.serialHex.length % 2 ? `0${cert.serialHex}` : cert.serialHex;
    const certId = `${cert.akiB64}.${Buffer.from(serial, 'hex').toString('base64url')}`;
    expect((await t.request(`/payments/renewal-info/${certId}`)).status).toBe(200);
    expect((await t.request(`/renewal-info/${certId}`)).status).toBe(404);
    // `replaces` naming another directory's certificate is an unknown certID: ignored (RFC 9773 §5, interop item 36).
    const renewal = await main.newOrder(['renew.example.com'], { replaces: certId });
    expectJson(renewal, 201);
    expect((await t.gw.store.orders.get(renewal.location!.split('/').pop()!))!.replacesCertificateId).toBeNull();
  });
});

describe('directories: readiness covers every directory\'s PCA', () => {
  it('an open breaker of one directory makes /readyz 503 and names it', async () => {
    // /readyz is the admin listener's (issue 13); the ACME port serves ACME only.
    expect((await t.admin('/readyz', { token: null })).status).toBe(200);
    t.gw.simulator!.faults.set({ errorRate: 1, errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR', endpoints: ['chain'] });
    try {
      const platform = t.gw.directories.find((d) => d.name === 'platform')!;
      for (let i = 0; i < 6 && platform.pca.breakerState() !== 'open'; i++) await platform.pca.chain().catch(() => undefined);
      expect(platform.pca.breakerState()).toBe('open');
      expect(t.gw.directories.find((d) => d.name === 'payments')!.pca.breakerState()).toBe('closed');
      const res = await t.admin('/readyz', { token: null });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'not ready', reason: 'the Private CA is failing (circuit breaker open) for directory platform' });
    } finally {
      t.gw.simulator!.faults.set({});
    }
  }, 60_000);
});
