import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipv6LoopbackUsable, prerequisitesRequired } from '../support/prerequisites.js';
import { acme, startHttp01Responder, trustAcmeServerCa, type Http01Responder } from './support/acmeClient.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import { issueHttp01, newAcmeClient, problemType, resourceUrl, signedPost, startTlsAlpnResponder, type AcmeClient } from './support/protocol.js';

// Issue 3 §2: IP identifiers (RFC 8738) validated for real on loopback: http-01 at 127.0.0.1 and at
// [::1], tls-alpn-01 at 127.0.0.1 with the reverse-DNS name as SNI; IP SANs in the CSR and the
// certificate; the identifier echoed exactly as sent.
//
// Not with lego: Debian's lego 4.9.1 sends IP addresses as `dns` identifiers (IP support came in lego
// 4.11; spec acme-interop §2), which RFC 8738 servers reject. acme-client's createOrder sends whatever
// identifiers it is given, and its createCsr / createAlpnCertificate write IP SANs for addresses.

const h = useHarness('protocol-ip.test.ts');

/**
 * A machine without ::1 skips the IPv6 case (loudly); in CI (ACME_E2E_REQUIRE_BINARIES=1 or CI) that
 * is a failure, so a CI image without IPv6 cannot pass by not running it.
 */
const ipv6Loopback = await ipv6LoopbackUsable();
if (!ipv6Loopback) {
  if (prerequisitesRequired()) throw new Error('FAILED: no IPv6 loopback (::1), and CI (ACME_E2E_REQUIRE_BINARIES=1 or CI) requires it');
  console.warn('*** SKIPPED: no IPv6 loopback (::1); the IPv6 identifier test does not run');
}

describe('IP identifiers (RFC 8738)', () => {
  let gateway: Gateway;
  let v4: Http01Responder | undefined;
  let v6: Http01Responder | undefined;
  let client: AcmeClient;

  beforeAll(async () => {
    gateway = await startGateway(h);
    trustAcmeServerCa(gateway.rootPem());
    v4 = await startHttp01Responder(gateway.validationHttpPort, '127.0.0.1');
    if (ipv6Loopback) v6 = await startHttp01Responder(gateway.validationHttpPort, '::1');
    ({ client } = await newAcmeClient(gateway));
    await client.createAccount({ termsOfServiceAgreed: true });
  });

  afterAll(async () => {
    await v4?.close();
    await v6?.close();
  });

  it('127.0.0.1 via http-01: the gateway fetches the token from 127.0.0.1, the certificate has the IP SAN', async () => {
    const issued = await issueHttp01(client, v4!, { identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    expect(v4!.served().length).toBeGreaterThan(0);
    opensslVerify(gateway.rootPemPath, issued.certificatePem, { sans: ['127.0.0.1'] });
  });

  it.skipIf(!ipv6Loopback)('IPv6 via http-01 at [::1]; the identifier is echoed exactly as sent (not re-formatted)', async () => {
    const asSent = '0:0:0:0:0:0:0:1';
    const res = await signedPost(client, await resourceUrl(client, 'newOrder'), { identifiers: [{ type: 'ip', value: asSent }] });
    expect(res.status).toBe(201);
    expect((res.data as { identifiers: unknown[] }).identifiers).toEqual([{ type: 'ip', value: asSent }]);

    const before = v6!.served().length;
    const issued = await issueHttp01(client, v6!, { identifiers: [{ type: 'ip', value: '::1' }] });
    expect(v6!.served().length).toBeGreaterThan(before);
    const cert = opensslVerify(gateway.rootPemPath, issued.certificatePem);
    // openssl prints IPv6 SANs in full: 0:0:0:0:0:0:0:1
    expect(cert.sans.map((s) => s.toLowerCase())).toEqual(['0:0:0:0:0:0:0:1']);
  });

  it('127.0.0.1 via tls-alpn-01: SNI is 1.0.0.127.in-addr.arpa, the acme-tls/1 certificate carries the IP SAN', async () => {
    const alpn = await startTlsAlpnResponder(gateway.tlsAlpnPort, '127.0.0.1');
    try {
      const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
      const authzs = await client.getAuthorizations(order);
      expect(authzs).toHaveLength(1);
      const authz = authzs[0]!;
      expect(authz.status).toBe('pending');
      expect(authz.challenges.map((c) => c.type).sort()).toEqual(['http-01', 'tls-alpn-01']);
      const challenge = authz.challenges.find((c) => (c.type as string) === 'tls-alpn-01')!;
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey('P-256'));
      alpn.set(cert.toString(), key.toString());
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
      // RFC 8738 §6: the SNI of an IP identifier is its reverse-mapping name.
      expect(alpn.sniSeen()).toContain('1.0.0.127.in-addr.arpa');
      const [, csr] = await acme.crypto.createCsr({ altNames: ['127.0.0.1'] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const finalized = await client.finalizeOrder(order, csr);
      const valid = finalized.status === 'valid' ? finalized : await client.waitForValidStatus(finalized);
      opensslVerify(gateway.rootPemPath, await client.getCertificate(valid), { sans: ['127.0.0.1'] });
    } finally {
      await alpn.close();
    }
  });

  it('an address sent as a dns identifier (what lego 4.9 and acme-client auto() do) → rejectedIdentifier', async () => {
    const res = await signedPost(client, await resourceUrl(client, 'newOrder'), { identifiers: [{ type: 'dns', value: '127.0.0.1' }] });
    expect(res.status).toBe(400);
    expect(problemType(res.data)).toBe('urn:ietf:params:acme:error:rejectedIdentifier');
  });

  it('a CSR whose IP SAN differs from the order → badCSR', async () => {
    const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    for (const authz of await client.getAuthorizations(order)) {
      const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
      v4!.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    const ready = await client.getOrder(order);
    const [, csr] = await acme.crypto.createCsr({ altNames: ['127.0.0.2'] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const res = await signedPost(client, ready.finalize, { csr: acme.crypto.getPemBodyAsB64u(csr) });
    expect(res.status).toBe(400);
    expect(problemType(res.data)).toBe('urn:ietf:params:acme:error:badCSR');
  });
});
