import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import type { Gateway } from './support/gateway.js';
import { startAcmeClientGateway } from './support/acme-gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import {
  ariCertIds,
  directoryJson,
  getRenewalInfo,
  issueHttp01,
  newAcmeClient,
  problemType,
  resourceUrl,
  signedPost,
  type AcmeClient,
} from './support/protocol.js';

// Issue 3 §8: ACME Renewal Information (RFC 9773). The certID is computed here from a really issued
// certificate (AKI keyIdentifier + serial DER bytes, base64url; with and without the sign byte), GET
// without authentication → suggestedWindow + Retry-After; a revoked certificate gets a window in the
// past; newOrder `replaces` (RFC 9773 §5) succeeds once, then alreadyReplaced; an unknown or
// unparsable `replaces` never breaks an order (spec acme-interop §1.36, §3: Caddy sends it blindly).

const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-ari.test.ts');

describe.skipIf(challBin.skip)('ACME Renewal Information and replaces', () => {
  let gateway: Gateway;
  let responder: Http01Responder | undefined;
  let client: AcmeClient;
  let firstPem: string;

  beforeAll(async () => {
    ({ gateway, responder } = await startAcmeClientGateway(h, { periodDays: 30 }));
    ({ client } = await newAcmeClient(gateway));
    await client.createAccount({ termsOfServiceAgreed: true });
    firstPem = (await issueHttp01(client, responder, { identifiers: [{ type: 'dns', value: 'ari.e2e.test' }] })).certificatePem;
  });

  afterAll(async () => {
    await responder?.close();
  });

  it('the directory advertises renewalInfo; GET <renewalInfo>/<certID> → 200 JSON window + Retry-After, with and without the 00 byte', async () => {
    const dir = await directoryJson(gateway);
    expect(String(dir.renewalInfo).startsWith(`${gateway.externalUrl}/`)).toBe(true);

    const ids = ariCertIds(firstPem);
    const cert = opensslVerify(gateway.rootPemPath, firstPem);
    const windows: unknown[] = [];
    for (const id of [ids.canonical, ids.alternate]) {
      const res = await getRenewalInfo(gateway, id);
      expect(res.status, `${id}: ${res.body}`).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      const body = JSON.parse(res.body) as { suggestedWindow: { start: string; end: string } };
      const start = Date.parse(body.suggestedWindow.start);
      const end = Date.parse(body.suggestedWindow.end);
      // acmez discards windows shorter than a second (spec §1.37); the window lies inside the lifetime.
      expect(end - start).toBeGreaterThan(1_000);
      expect(start).toBeGreaterThan(Date.now());
      expect(end).toBeLessThanOrEqual(Date.parse(cert.notAfter));
      windows.push(body.suggestedWindow);
    }
    expect(windows[1]).toEqual(windows[0]);
  });

  it('an unknown certID is 404 malformed, an unparsable one 400 malformed (RFC 9773 §4.1), each a problem document', async () => {
    const ids = ariCertIds(firstPem);
    const unknown = await getRenewalInfo(gateway, `${ids.canonical.split('.')[0]}.${randomBytes(16).toString('base64url')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(unknown.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 404 });
    const malformed = await getRenewalInfo(gateway, 'not-a-cert-id');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(malformed.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 400 });
  });

  it('a renewal with replaces = certID succeeds; a second one with the same replaces gets 409 alreadyReplaced', async () => {
    const { canonical } = ariCertIds(firstPem);
    const renewed = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'ari.e2e.test' }], replaces: canonical });
    opensslVerify(gateway.rootPemPath, renewed.certificatePem, { sans: ['ari.e2e.test'] });
    const order = await signedPost(client, renewed.orderUrl, null);
    expect((order.data as { status: string }).status).toBe('valid');
    // RFC 9773 §5: the order carries `replaces` exactly as sent.
    expect((order.data as { replaces?: string }).replaces).toBe(canonical);

    const again = await signedPost(client, await resourceUrl(client, 'newOrder'), { identifiers: [{ type: 'dns', value: 'ari.e2e.test' }], replaces: canonical });
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemType(again.data)).toBe('urn:ietf:params:acme:error:alreadyReplaced');
    // The other spelling of the same certID names the same certificate.
    const alt = await signedPost(client, await resourceUrl(client, 'newOrder'), { identifiers: [{ type: 'dns', value: 'ari.e2e.test' }], replaces: ariCertIds(firstPem).alternate });
    expect(problemType(alt.data)).toBe('urn:ietf:params:acme:error:alreadyReplaced');
  });

  it("another account's certificate in replaces → alreadyReplaced", async () => {
    const { client: other } = await newAcmeClient(gateway);
    await other.createAccount({ termsOfServiceAgreed: true });
    const own = await issueHttp01(other, responder!, { identifiers: [{ type: 'dns', value: 'ari-other.e2e.test' }] });
    const res = await signedPost(client, await resourceUrl(client, 'newOrder'), {
      identifiers: [{ type: 'dns', value: 'ari-other.e2e.test' }],
      replaces: ariCertIds(own.certificatePem).canonical,
    });
    expect(res.status).toBe(409);
    expect(problemType(res.data)).toBe('urn:ietf:params:acme:error:alreadyReplaced');
  });

  it('an unknown or unparsable replaces does not break an otherwise fine order', async () => {
    const aki = ariCertIds(firstPem).canonical.split('.')[0]!;
    for (const replaces of [`${aki}.${randomBytes(18).toString('base64url')}`, `${randomBytes(20).toString('base64url')}.AQ`, 'garbage!']) {
      const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'ari-unknown.e2e.test' }], replaces });
      opensslVerify(gateway.rootPemPath, issued.certificatePem, { sans: ['ari-unknown.e2e.test'] });
    }
  });

  it('after revocation the suggested window is in the past', async () => {
    const issued = await issueHttp01(client, responder!, { identifiers: [{ type: 'dns', value: 'ari-revoked.e2e.test' }] });
    const { canonical, alternate } = ariCertIds(issued.certificatePem);
    const before = JSON.parse((await getRenewalInfo(gateway, canonical)).body) as { suggestedWindow: { start: string; end: string } };
    expect(Date.parse(before.suggestedWindow.start)).toBeGreaterThan(Date.now());

    await client.revokeCertificate(issued.certificatePem, { reason: 1 });
    for (const id of [canonical, alternate]) {
      const res = await getRenewalInfo(gateway, id);
      expect(res.status).toBe(200);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      const after = JSON.parse(res.body) as { suggestedWindow: { start: string; end: string } };
      expect(Date.parse(after.suggestedWindow.start)).toBeLessThan(Date.parse(after.suggestedWindow.end));
      expect(Date.parse(after.suggestedWindow.end)).toBeLessThan(Date.now());
    }
  });
});
