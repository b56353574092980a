import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acme, internalHttp, type Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import type { Gateway } from './support/gateway.js';
import { startAcmeClientGateway } from './support/acme-gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import { issueHttp01, newAcmeClient, problemType, resourceUrl, signedPost, type AcmeClient } from './support/protocol.js';

// Issue 3 §3, §4, §6 with node acme-client 5.4: account key rollover (RFC 8555 §7.3.5), the orders
// list with Link rel="next" paging (§7.1.2.1), authorization deactivation (§7.5.2) and account
// deactivation (§7.3.6).

const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-account.test.ts');

interface SignerInternals {
  createSignedBody(url: string, payload: unknown): unknown;
  getJwk(): Record<string, string>;
}

describe.skipIf(challBin.skip)('account life cycle with acme-client', () => {
  let gateway: Gateway;
  let responder: Http01Responder | undefined;

  beforeAll(async () => {
    ({ gateway, responder } = await startAcmeClientGateway(h));
  });

  afterAll(async () => {
    await responder?.close();
  });

  const registered = async (key?: Buffer): Promise<{ client: AcmeClient; accountKey: Buffer; account: Record<string, unknown> }> => {
    const { client, accountKey } = await newAcmeClient(gateway, key);
    const account = (await client.createAccount({ termsOfServiceAgreed: true })) as unknown as Record<string, unknown>;
    return { client, accountKey, account };
  };

  it('key rollover (updateAccountKey): the new key issues; the old key no longer finds the account', async () => {
    const { client, accountKey: oldKey } = await registered();
    const accountUrl = client.getAccountUrl();
    const newKey = await acme.crypto.createPrivateEcdsaKey('P-384');

    const updated = await client.updateAccountKey(newKey);
    expect(updated.status).toBe('valid');

    // The same client object now signs with the new key: a new order goes through to a certificate.
    const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'rollover.e2e.test' }] });
    opensslVerify(gateway.rootPemPath, issued.certificatePem, { sans: ['rollover.e2e.test'] });

    // The new key finds the same account.
    const { client: withNew } = await newAcmeClient(gateway, newKey);
    await withNew.createAccount({ onlyReturnExisting: true });
    expect(withNew.getAccountUrl()).toBe(accountUrl);

    // The old key: onlyReturnExisting → accountDoesNotExist ...
    const { client: withOld } = await newAcmeClient(gateway, oldKey);
    const lookup = await signedPost(withOld, await resourceUrl(withOld, 'newAccount'), { onlyReturnExisting: true }, { jwk: true });
    expect(lookup.status).toBe(400);
    expect(problemType(lookup.data)).toBe('urn:ietf:params:acme:error:accountDoesNotExist');
    const kidOld = await internalHttp(withOld).signedRequest(await resourceUrl(withOld, 'newOrder'), { identifiers: [{ type: 'dns', value: 'old.e2e.test' }] }, { kid: accountUrl });
    // ... and a kid request signed with it is refused: the account's key is now P-384, so an ES256
    // signature by the old key cannot verify: 400 malformed "JWS verification error" (Boulder's words).
    expect(kidOld.status).toBe(400);
    expect(kidOld.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemType(kidOld.data)).toBe('urn:ietf:params:acme:error:malformed');
    expect((kidOld.data as { detail: string }).detail).toMatch(/JWS verification error/);
  });

  it('key change to a key another account uses → 409 with that account in Location', async () => {
    const { client: a } = await registered();
    const { client: b, accountKey: bKey } = await registered();
    const keyChangeUrl = await resourceUrl(a, 'keyChange');
    // Inner JWS signed by B's key (jwk), naming A and A's current key (RFC 8555 §7.3.5).
    const { client: signerWithBKey } = await newAcmeClient(gateway, bKey);
    const innerSigner = internalHttp(signerWithBKey) as unknown as SignerInternals;
    const inner = innerSigner.createSignedBody(keyChangeUrl, { account: a.getAccountUrl(), oldKey: (internalHttp(a) as unknown as SignerInternals).getJwk() });
    const res = await signedPost(a, keyChangeUrl, inner);
    expect(res.status).toBe(409);
    expect(res.headers.location).toBe(b.getAccountUrl());
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('orders list: POST-as-GET of the account "orders" URL lists the orders, with Link rel="next" past 100', async () => {
    const { client, account } = await registered();
    const ordersUrl = String(account.orders);
    expect(ordersUrl.startsWith(`${gateway.externalUrl}/`)).toBe(true);

    const created: string[] = [];
    // 101 orders: one more than the gateway's page size (100), so a second page must exist.
    for (let i = 0; i < 101; i++) {
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `list${i}.e2e.test` }] });
      created.push((order as unknown as { url: string }).url);
    }

    const page = await signedPost(client, ordersUrl, null);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^application\/json/);
    const listed = (page.data as { orders: string[] }).orders;
    // Page size 100: the first page holds 100 of this account's orders ...
    expect(listed).toHaveLength(100);
    for (const url of listed) expect(created).toContain(url);
    // ... and points to the rest with Link rel="next" (Node joins the separate Link lines with ", ").
    const links = ([] as string[]).concat((page.headers as Record<string, unknown>).link as string | string[]).flatMap((l) => l.split(/,\s*(?=<)/));
    expect(links).toContain(`<${gateway.directoryUrl}>;rel="index"`);
    const next = links.find((l) => /;rel="next"$/.test(l));
    expect(next).toMatch(new RegExp(`^<${ordersUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^>]*>;rel="next"$`));
    // Following it (the JWS url carries the ?cursor query, RFC 8555 §6.4) gives the rest, with no further next.
    const nextUrl = /<([^>]+)>/.exec(next!)![1]!;
    const page2 = await signedPost(client, nextUrl, null);
    expect(page2.status).toBe(200);
    const rest = (page2.data as { orders: string[] }).orders;
    expect(rest).toHaveLength(1);
    expect(new Set([...listed, ...rest])).toEqual(new Set(created));
    const links2 = ([] as string[]).concat((page2.headers as Record<string, unknown>).link as string | string[]).flatMap((l) => l.split(/,\s*(?=<)/));
    expect(links2.some((l) => /rel="next"/.test(l))).toBe(false);

    // Another account cannot read this list.
    const { client: other } = await registered();
    const denied = await signedPost(other, ordersUrl, null);
    expect(denied.status).toBe(403);
    expect(problemType(denied.data)).toBe('urn:ietf:params:acme:error:unauthorized');
  });

  it('authorization deactivation: {"status":"deactivated"} → 200 deactivated; the order ends invalid', async () => {
    const { client } = await registered();
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: 'deact-authz.e2e.test' }] });
    const [authz] = await client.getAuthorizations(order);
    const done = await client.deactivateAuthorization(authz!);
    expect(done.status).toBe('deactivated');
    const after = await client.getOrder(order);
    expect(after.status).toBe('invalid');
  });

  it('account deactivation: 200 deactivated, then every request with its key → unauthorized', async () => {
    const { client } = await registered();
    const accountUrl = client.getAccountUrl();
    const deactivated = await client.updateAccount({ status: 'deactivated' } as never);
    expect(deactivated.status).toBe('deactivated');

    const newOrder = await signedPost(client, await resourceUrl(client, 'newOrder'), { identifiers: [{ type: 'dns', value: 'gone.e2e.test' }] });
    expect(newOrder.status).toBe(401);
    expect(problemType(newOrder.data)).toBe('urn:ietf:params:acme:error:unauthorized');
    const read = await signedPost(client, accountUrl, null);
    expect(read.status).toBe(401);
    expect(problemType(read.data)).toBe('urn:ietf:params:acme:error:unauthorized');
    await expect(client.createOrder({ identifiers: [{ type: 'dns', value: 'gone2.e2e.test' }] })).rejects.toThrow();
  });

  it('Retry-After in whole seconds on pending order, authorization and challenge responses', async () => {
    const { client } = await registered();
    const created = await signedPost(client, await resourceUrl(client, 'newOrder'), { identifiers: [{ type: 'dns', value: 'retry-after.e2e.test' }] });
    expect(created.status).toBe(201);
    expect(created.headers['retry-after']).toMatch(/^\d+$/);
    const order = created.data as { authorizations: string[] };
    const authz = await signedPost(client, order.authorizations[0]!, null);
    expect((authz.data as { status: string }).status).toBe('pending');
    expect(authz.headers['retry-after']).toMatch(/^\d+$/);
    const challenge = (authz.data as { challenges: { type: string; url: string; token: string }[] }).challenges.find((c) => c.type === 'http-01')!;
    const read = await signedPost(client, challenge.url, null);
    expect((read.data as { status: string }).status).toBe('pending');
    expect(read.headers['retry-after']).toMatch(/^\d+$/);
    const readOrder = await signedPost(client, created.headers.location!, null);
    expect(readOrder.headers['retry-after']).toMatch(/^\d+$/);

    responder!.set(challenge.token, await client.getChallengeKeyAuthorization(challenge as never));
    const answered = await signedPost(client, challenge.url, {});
    expect(answered.status).toBe(200);
    const state = (answered.data as { status: string }).status;
    if (state === 'pending' || state === 'processing') expect(answered.headers['retry-after']).toMatch(/^\d+$/);
  });
});
