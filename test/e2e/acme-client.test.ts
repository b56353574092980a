import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acme, acmeClientAutoHttp01, internalHttp, type Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { startAcmeClientGateway } from './support/acme-gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';

// npm acme-client 5.4, in-process, against the built gateway over https: account life cycle
// (spec acme-interop §1 items 11-12), client.auto() with http-01 answered by a responder this test
// runs on validation.httpPort, and the raw answers strict clients depend on.

const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('acme-client.test.ts');

describe.skipIf(challBin.skip)('node acme-client 5.4 against the gateway', () => {
  let gateway: Gateway;
  let responder: Http01Responder | undefined;

  beforeAll(async () => {
    ({ gateway, responder } = await startAcmeClientGateway(h));
  });

  afterAll(async () => {
    await responder?.close();
  });

  const newClient = async (accountKey?: Buffer): Promise<{ client: InstanceType<typeof acme.Client>; accountKey: Buffer }> => {
    const key = accountKey ?? (await acme.crypto.createPrivateEcdsaKey('P-256'));
    // Short backoff: the gateway validates within seconds (spec §1.30).
    return { client: new acme.Client({ directoryUrl: gateway.directoryUrl, accountKey: key, backoffMin: 250, backoffMax: 2_000 }), accountKey: key };
  };

  it('creates an account, then auto() issues for two names via http-01; the chain verifies', async () => {
    const { client } = await newClient();
    expect(() => client.getAccountUrl()).toThrow();

    const account = await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:node-e2e@example.com'] });
    expect(account.status).toBe('valid');
    expect(account.contact).toEqual(['mailto:node-e2e@example.com']);
    const accountUrl = client.getAccountUrl();
    expect(accountUrl.startsWith(`${gateway.externalUrl}/`)).toBe(true);

    const domains = ['node1.e2e.test', 'node2.e2e.test'];
    const issued = await acmeClientAutoHttp01(client, responder!, domains);
    expect(issued.accountUrl).toBe(accountUrl);
    opensslVerify(gateway.rootPemPath, issued.certificatePem, { sans: domains });
    // The gateway really fetched both tokens from our responder.
    expect(responder!.served().length).toBeGreaterThanOrEqual(2);
  });

  it('auto() with an RSA account key and a P-384 CSR key also works', async () => {
    const { client } = await newClient(await acme.crypto.createPrivateRsaKey(2048));
    const [keyPem, csr] = await acme.crypto.createCsr({ commonName: 'node-rsa.e2e.test' }, await acme.crypto.createPrivateEcdsaKey('P-384'));
    const cert = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_a, c, k) => responder!.set(c.token, k),
      challengeRemoveFn: async (_a, c) => responder!.remove(c.token),
    });
    expect(keyPem.length).toBeGreaterThan(0);
    opensslVerify(gateway.rootPemPath, cert, { sans: ['node-rsa.e2e.test'] });
  });

  it('onlyReturnExisting finds a known key (same URL) and answers accountDoesNotExist for an unknown one', async () => {
    const { client: first, accountKey } = await newClient();
    await first.createAccount({ termsOfServiceAgreed: true });
    const accountUrl = first.getAccountUrl();

    // Same key, fresh client: the library looks the account up (RFC 8555 §7.3.1).
    const { client: again } = await newClient(accountKey);
    const existing = await again.createAccount({ onlyReturnExisting: true });
    expect(existing.status).toBe('valid');
    expect(again.getAccountUrl()).toBe(accountUrl);

    // Unknown key: the library throws and keeps no account URL.
    const { client: stranger } = await newClient();
    await expect(stranger.createAccount({ onlyReturnExisting: true })).rejects.toThrow();
    expect(() => stranger.getAccountUrl()).toThrow();

    // The raw answer strict clients (uacme, x/crypto) depend on: 400 problem+json accountDoesNotExist (spec §1.12).
    const raw = internalHttp(stranger);
    const newAccountUrl = await raw.getResourceUrl('newAccount');
    const unknown = await raw.signedRequest(newAccountUrl, { onlyReturnExisting: true });
    expect(unknown.status).toBe(400);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(unknown.data).toMatchObject({ type: 'urn:ietf:params:acme:error:accountDoesNotExist', status: 400 });
    expect(unknown.headers['replay-nonce']).toBeTruthy();

    // newAccount with a known key → 200 + Location of the existing account (spec §1.11).
    const known = await internalHttp(again).signedRequest(newAccountUrl, { termsOfServiceAgreed: true });
    expect(known.status).toBe(200);
    expect(known.headers.location).toBe(accountUrl);
  });

  it('also works over plain http (server.tls.mode none)', async () => {
    // Same validation port, so the responder above answers for this gateway too.
    const plain = await startGateway(h, { tls: 'none', dnsResolvers: gateway.dnsResolvers, validationHttpPort: gateway.validationHttpPort });
    try {
      expect(plain.directoryUrl.startsWith('http://')).toBe(true);
      const client = new acme.Client({ directoryUrl: plain.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256') });
      const issued = await acmeClientAutoHttp01(client, responder!, ['node-plain.e2e.test']);
      opensslVerify(plain.rootPemPath, issued.certificatePem, { sans: ['node-plain.e2e.test'] });
    } finally {
      await plain.stop();
    }
  });
});
