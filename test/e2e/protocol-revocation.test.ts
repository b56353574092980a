import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acme, startHttp01Responder, trustAcmeServerCa, type Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import type { LegoSetup } from './support/lego.js';
import { legoHttp01Run, legoRevoke } from './support/lego-more.js';
import { opensslVerify, splitPemCertificates } from './support/openssl.js';
import {
  issueHttp01,
  newAcmeClient,
  normalizeHex,
  problemType,
  resourceUrl,
  signedPost,
  simulatorCrlSerials,
  storedRevocation,
} from './support/protocol.js';

// Issue 3 §5: revocation (RFC 8555 §7.6) signed by the owning account (lego `revoke`, kid) or by the
// certificate's own key (jwk, through acme-client's signer with the certificate key as the JWS key),
// relayed to the PCA: afterwards the simulator's CRL (GET /ext/<caTag>/crl, DER) lists the serial, the
// gateway has the status and reason recorded, and a second request gets alreadyRevoked.

const legoBin = requireBinary('lego');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-revocation.test.ts');

const pemToB64u = (pem: string): string => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64').toString('base64url');

describe.skipIf(legoBin.skip || challBin.skip)('revocation by account and by certificate key', () => {
  let gateway: Gateway;
  let responder: Http01Responder | undefined;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
    trustAcmeServerCa(gateway.rootPem());
  });

  afterAll(async () => {
    await responder?.close();
  });

  it('lego revoke (account-signed, reason 4): 200, the CRL lists the serial, a second revoke gets alreadyRevoked', async () => {
    const lego: LegoSetup = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, basePath: h.tempDir('lego-revoke'), email: 'revoke@example.com' };
    const domains = ['lego-revoke.e2e.test'];
    const { files } = await legoHttp01Run(h, lego, domains, { httpPort: gateway.validationHttpPort });
    const cert = opensslVerify(gateway.rootPemPath, fs.readFileSync(files.crtPath, 'utf8'), { sans: domains });
    expect(await simulatorCrlSerials(gateway)).not.toContain(normalizeHex(cert.serial));

    const revoked = await legoRevoke(h, lego, domains, { reason: 4 });
    expect(revoked.stdout + revoked.stderr).toMatch(/Certificate was revoked/i);

    expect(await simulatorCrlSerials(gateway)).toContain(normalizeHex(cert.serial));
    expect(storedRevocation(gateway, cert.serial)).toEqual({ status: 'revoked', reason: 4 });

    const again = await legoRevoke(h, lego, domains, { expectOk: false });
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/alreadyRevoked/);
  });

  it('acme-client: revokeCert signed by the certificate key (jwk) → 200; the CRL lists it; kid revoke then → alreadyRevoked', async () => {
    // lego owns validation.httpPort only while it runs; from here on our responder answers there.
    responder = await startHttp01Responder(gateway.validationHttpPort);
    const { client } = await newAcmeClient(gateway);
    await client.createAccount({ termsOfServiceAgreed: true });
    const certKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const issued = await issueHttp01(client, responder, { identifiers: [{ type: 'dns', value: 'node-revoke.e2e.test' }] }, { keyPem: certKey });
    const cert = opensslVerify(gateway.rootPemPath, issued.certificatePem, { sans: ['node-revoke.e2e.test'] });
    const der = pemToB64u(splitPemCertificates(issued.certificatePem)[0]!);

    // A client whose "account key" is the certificate key: its signer then puts that key in `jwk`.
    const { client: byCertKey } = await newAcmeClient(gateway, certKey);
    const revokeUrl = await resourceUrl(byCertKey, 'revokeCert');

    // A key that is neither the owner nor the certificate key is refused first.
    const { client: stranger } = await newAcmeClient(gateway);
    const refused = await signedPost(stranger, revokeUrl, { certificate: der }, { jwk: true });
    expect(refused.status).toBe(403);
    expect(problemType(refused.data)).toBe('urn:ietf:params:acme:error:unauthorized');

    // Reason 7 is unused in RFC 5280: badRevocationReason.
    const bad = await signedPost(byCertKey, revokeUrl, { certificate: der, reason: 7 }, { jwk: true });
    expect(bad.status).toBe(400);
    expect(problemType(bad.data)).toBe('urn:ietf:params:acme:error:badRevocationReason');

    const ok = await signedPost(byCertKey, revokeUrl, { certificate: der, reason: 1 }, { jwk: true });
    expect(ok.status).toBe(200);
    expect(ok.headers['replay-nonce']).toBeTruthy();

    expect(await simulatorCrlSerials(gateway)).toContain(normalizeHex(cert.serial));
    expect(storedRevocation(gateway, cert.serial)).toEqual({ status: 'revoked', reason: 1 });

    // The owning account now: the library's own revokeCertificate (kid) → 400 alreadyRevoked.
    const err = await client.revokeCertificate(issued.certificatePem).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/already/i);
    const raw = await signedPost(client, revokeUrl, { certificate: der });
    expect(raw.status).toBe(400);
    expect(problemType(raw.data)).toBe('urn:ietf:params:acme:error:alreadyRevoked');
  });

  it("an account cannot revoke another account's certificate (kid) — 403 unauthorized; the owner can", async () => {
    const { client: owner } = await newAcmeClient(gateway);
    await owner.createAccount({ termsOfServiceAgreed: true });
    const issued = await issueHttp01(owner, responder!, { identifiers: [{ type: 'dns', value: 'node-revoke2.e2e.test' }] });
    const der = pemToB64u(splitPemCertificates(issued.certificatePem)[0]!);

    const { client: other } = await newAcmeClient(gateway);
    await other.createAccount({ termsOfServiceAgreed: true });
    const denied = await signedPost(other, await resourceUrl(other, 'revokeCert'), { certificate: der });
    expect(denied.status).toBe(403);
    expect(problemType(denied.data)).toBe('urn:ietf:params:acme:error:unauthorized');

    // acme-client's revokeCertificate (kid, no "reason" member) → 200.
    await owner.revokeCertificate(issued.certificatePem);
    const serial = opensslVerify(gateway.rootPemPath, issued.certificatePem).serial;
    expect(await simulatorCrlSerials(gateway)).toContain(normalizeHex(serial));
    expect(storedRevocation(gateway, serial)?.status).toBe('revoked');
  });
});
