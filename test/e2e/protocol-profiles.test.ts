import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acme, type Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import type { Gateway } from './support/gateway.js';
import { startAcmeClientGateway } from './support/acme-gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify, splitPemCertificates } from './support/openssl.js';
import { directoryJson, issueHttp01, newAcmeClient, problemType, resourceUrl, signedPost, type AcmeClient } from './support/protocol.js';

// Issue 3 §9, §10: validity (newOrder notBefore/notAfter mapped to the PCA `period`, zero times of
// step CLI = unset, out-of-policy → a clear problem) and profiles (draft-ietf-acme-profiles:
// meta.profiles from config, newOrder `profile`, unknown → invalidProfile), with node acme-client.

const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-profiles.test.ts');

const DAY = 86_400_000;
const ZERO_TIME = '0001-01-01T00:00:00Z';

const lifetimeMs = (pem: string): { notBefore: number; notAfter: number; days: number } => {
  const leaf = new X509Certificate(splitPemCertificates(pem)[0]!);
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  return { notBefore, notAfter, days: (notAfter - notBefore) / DAY };
};

describe.skipIf(challBin.skip)('profiles and validity', () => {
  let gateway: Gateway;
  let responder: Http01Responder | undefined;
  let client: AcmeClient;
  let newOrderUrl: string;

  beforeAll(async () => {
    ({ gateway, responder } = await startAcmeClientGateway(h, {
      periodDays: 90,
      extraConfig: {
        acme: {
          profiles: {
            short: { description: 'Short-lived certificates (7 days)', period: 7 },
            ecdsa: { description: 'ECDSA P-256 keys only', keyTypes: ['ecdsa-p256'] },
          },
        },
      },
    }));
    ({ client } = await newAcmeClient(gateway));
    await client.createAccount({ termsOfServiceAgreed: true });
    newOrderUrl = await resourceUrl(client, 'newOrder');
  });

  afterAll(async () => {
    await responder?.close();
  });

  const order = (name: string, extra: Record<string, unknown> = {}) => signedPost(client, newOrderUrl, { identifiers: [{ type: 'dns', value: name }], ...extra });

  it('directory meta.profiles lists the configured profiles as name → description strings', async () => {
    const dir = await directoryJson(gateway);
    expect((dir.meta as Record<string, unknown>).profiles).toEqual({
      short: 'Short-lived certificates (7 days)',
      ecdsa: 'ECDSA P-256 keys only',
    });
  });

  it('profile "short" → the order names it and the certificate is valid for at most 7 days', async () => {
    const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'short.e2e.test' }], profile: 'short' });
    opensslVerify(gateway.rootPemPath, issued.certificatePem, { sans: ['short.e2e.test'] });
    const read = await signedPost(client, issued.orderUrl, null);
    expect((read.data as { profile?: string }).profile).toBe('short');
    const life = lifetimeMs(issued.certificatePem);
    expect(life.days).toBeLessThanOrEqual(7 + 1 / 24);
    expect(life.days).toBeGreaterThan(6);
  });

  it('no profile → the default period (90 days)', async () => {
    const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'default.e2e.test' }] });
    const life = lifetimeMs(issued.certificatePem);
    expect(life.days).toBeGreaterThan(89);
    expect(life.days).toBeLessThanOrEqual(90 + 1 / 24);
  });

  it('an unknown profile → 400 invalidProfile', async () => {
    const res = await order('nope.e2e.test', { profile: 'no-such-profile' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemType(res.data)).toBe('urn:ietf:params:acme:error:invalidProfile');
  });

  it('a profile with keyTypes refuses a CSR with another key type (badCSR) and accepts its own', async () => {
    const created = await client.createOrder({ identifiers: [{ type: 'dns', value: 'ecdsa-only.e2e.test' }], profile: 'ecdsa' } as never);
    for (const authz of await client.getAuthorizations(created)) {
      const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
      responder!.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    const [, rsaCsr] = await acme.crypto.createCsr({ altNames: ['ecdsa-only.e2e.test'] }, await acme.crypto.createPrivateRsaKey(2048));
    const refused = await signedPost(client, created.finalize, { csr: acme.crypto.getPemBodyAsB64u(rsaCsr) });
    expect(refused.status).toBe(400);
    expect(problemType(refused.data)).toBe('urn:ietf:params:acme:error:badCSR');
    const [, ecCsr] = await acme.crypto.createCsr({ altNames: ['ecdsa-only.e2e.test'] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const finalized = await client.finalizeOrder(created, ecCsr);
    const valid = finalized.status === 'valid' ? finalized : await client.waitForValidStatus(finalized);
    opensslVerify(gateway.rootPemPath, await client.getCertificate(valid), { sans: ['ecdsa-only.e2e.test'] });
  });

  it('notAfter within policy is honoured (mapped to whole days)', async () => {
    const wanted = new Date(Date.now() + 10 * DAY);
    const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'notafter.e2e.test' }], notAfter: wanted.toISOString() });
    const life = lifetimeMs(issued.certificatePem);
    // The PCA counts whole days from signing: at least what was asked, at most a day more.
    expect(life.notAfter).toBeGreaterThanOrEqual(wanted.getTime() - 60_000);
    expect(life.notAfter).toBeLessThanOrEqual(wanted.getTime() + DAY);
  });

  it('notAfter beyond policy → 400 malformed with a clear detail (also past a profile period)', async () => {
    const far = await order('far.e2e.test', { notAfter: new Date(Date.now() + 400 * DAY).toISOString() });
    expect(far.status).toBe(400);
    expect(far.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemType(far.data)).toBe('urn:ietf:params:acme:error:malformed');
    expect((far.data as { detail: string }).detail).toMatch(/90 days/);

    const pastProfile = await order('far-short.e2e.test', { profile: 'short', notAfter: new Date(Date.now() + 30 * DAY).toISOString() });
    expect(pastProfile.status).toBe(400);
    expect(problemType(pastProfile.data)).toBe('urn:ietf:params:acme:error:malformed');
    expect((pastProfile.data as { detail: string }).detail).toMatch(/7 days/);
  });

  it('a notBefore in the future cannot be honoured by the PCA → 400 malformed', async () => {
    const res = await order('future.e2e.test', { notBefore: new Date(Date.now() + 2 * DAY).toISOString() });
    expect(res.status).toBe(400);
    expect(problemType(res.data)).toBe('urn:ietf:params:acme:error:malformed');
  });

  it('zero times (0001-01-01T00:00:00Z, step CLI) are treated as unset: 201 and a default-period certificate', async () => {
    const res = await order('zero.e2e.test', { notBefore: ZERO_TIME, notAfter: ZERO_TIME });
    expect(res.status).toBe(201);
    const body = res.data as { notBefore?: string; notAfter?: string; status: string };
    expect(body.status).toBe('pending');
    expect(body.notBefore).toBeUndefined();
    expect(body.notAfter).toBeUndefined();

    const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'zero.e2e.test' }], notBefore: ZERO_TIME, notAfter: ZERO_TIME });
    expect(lifetimeMs(issued.certificatePem).days).toBeGreaterThan(89);
  });
});
