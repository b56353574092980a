import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { gatewayEntry, repoRoot } from './support/build.js';
import { attachCertbotLog, certbotCertonly, type CertbotSetup } from './support/certbot.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import type { LegoSetup } from './support/lego.js';
import { legoHttp01Run } from './support/lego-more.js';
import { opensslVerify } from './support/openssl.js';
import { internalHttp, trustAcmeServerCa } from './support/acmeClient.js';
import { directoryJson, mintEabKey, newAcmeClient, problemType, resourceUrl, signedPost } from './support/protocol.js';

// Issue 3 §7: External Account Binding (RFC 8555 §7.3.4) against a gateway with
// acme.externalAccountRequired: true. Keys are minted by the admin CLI (`eab create --json`), exactly
// as an operator would, and used by lego (`--eab --kid --hmac`) and certbot (`--eab-kid --eab-hmac-key`).

const legoBin = requireBinary('lego');
const certbotBin = requireBinary('certbot');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-eab.test.ts');

interface ListedKey {
  id: string;
  label: string;
  boundAccountId: string | null;
  revokedAt: string | null;
}

describe.skipIf(legoBin.skip || certbotBin.skip || challBin.skip)('External Account Binding with lego and certbot', () => {
  let gateway: Gateway;

  const newLego = (label: string): LegoSetup => ({
    directoryUrl: gateway.directoryUrl,
    caBundlePath: gateway.rootPemPath,
    basePath: h.tempDir(`lego-${label}`),
    email: `${label}@example.com`,
  });

  const listKeys = async (): Promise<ListedKey[]> => {
    const r = await h.runOk(process.execPath, [gatewayEntry(), 'eab', 'list', '--config', gateway.configPath, '--json'], { cwd: repoRoot, timeoutMs: 30_000 });
    return JSON.parse(r.stdout) as ListedKey[];
  };

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress], extraConfig: { acme: { externalAccountRequired: true } } });
  });

  it('the directory says externalAccountRequired: true', async () => {
    const dir = await directoryJson(gateway);
    expect((dir.meta as Record<string, unknown>).externalAccountRequired).toBe(true);
  });

  it('without EAB registration fails: lego stops on meta.externalAccountRequired, the server answers externalAccountRequired', async () => {
    // lego 4.9.1 reads meta.externalAccountRequired and refuses before it sends newAccount.
    const { result } = await legoHttp01Run(h, newLego('noeab'), ['lego-noeab.e2e.test'], { httpPort: gateway.validationHttpPort, expectOk: false });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/Server requires External Account Binding/);

    // What a client that does send newAccount without a binding gets (RFC 8555 §7.3.4).
    trustAcmeServerCa(gateway.rootPem());
    const { client } = await newAcmeClient(gateway);
    const raw = await signedPost(client, await resourceUrl(client, 'newAccount'), { termsOfServiceAgreed: true }, { jwk: true });
    expect(raw.status).toBe(400);
    expect(raw.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemType(raw.data)).toBe('urn:ietf:params:acme:error:externalAccountRequired');
  });

  it('lego --eab --kid --hmac registers and issues; the key is then bound and cannot be reused', async () => {
    const eab = await mintEabKey(h, gateway, 'lego-e2e', ['--expires', '1d']);
    // Shown once as unpadded base64url (cert-manager decodes with RawURLEncoding; spec §1.16).
    expect(eab.hmacKey).toMatch(/^[A-Za-z0-9_-]+$/);

    const lego = newLego('eab');
    const { files } = await legoHttp01Run(h, lego, ['lego-eab.e2e.test'], { httpPort: gateway.validationHttpPort, eab });
    opensslVerify(gateway.rootPemPath, fs.readFileSync(files.crtPath, 'utf8'), { sans: ['lego-eab.e2e.test'] });

    const listed = (await listKeys()).find((k) => k.id === eab.keyId);
    expect(listed?.label).toBe('lego-e2e');
    expect(listed?.boundAccountId).toBeTruthy();

    // A second account with the same key: refused (each key is bound to the account it created).
    const { result } = await legoHttp01Run(h, newLego('eab-reuse'), ['lego-eab2.e2e.test'], { httpPort: gateway.validationHttpPort, eab, expectOk: false });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/urn:ietf:params:acme:error:unauthorized/);
  });

  it('a revoked EAB key is refused (eab revoke)', async () => {
    const eab = await mintEabKey(h, gateway, 'revoked-key');
    await h.runOk(process.execPath, [gatewayEntry(), 'eab', 'revoke', eab.keyId, '--config', gateway.configPath], { cwd: repoRoot, timeoutMs: 30_000 });
    expect((await listKeys()).find((k) => k.id === eab.keyId)?.revokedAt).toBeTruthy();
    const { result } = await legoHttp01Run(h, newLego('eab-revoked'), ['lego-eab3.e2e.test'], { httpPort: gateway.validationHttpPort, eab, expectOk: false });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/urn:ietf:params:acme:error:unauthorized/);
  });

  it('certbot --eab-kid --eab-hmac-key registers and issues', async () => {
    const eab = await mintEabKey(h, gateway, 'certbot-e2e');
    const certbot: CertbotSetup = {
      directoryUrl: gateway.directoryUrl,
      caBundlePath: gateway.rootPemPath,
      httpPort: gateway.validationHttpPort,
      baseDir: h.tempDir('certbot-eab'),
    };
    attachCertbotLog(h, certbot);
    const { result, lineage } = await certbotCertonly(h, certbot, ['certbot-eab.e2e.test'], {
      // "=": a base64url key may start with "-", which argparse would take for an option (1 run in 64).
      extraArgs: ['--eab-kid', eab.keyId, `--eab-hmac-key=${eab.hmacKey}`],
    });
    expect(result.stdout + result.stderr).toMatch(/Successfully received certificate/);
    opensslVerify(gateway.rootPemPath, fs.readFileSync(lineage.fullchainPath, 'utf8'), { sans: ['certbot-eab.e2e.test'] });
    expect((await listKeys()).find((k) => k.id === eab.keyId)?.boundAccountId).toBeTruthy();
  });

  it('HS384 and HS512 bindings (certbot >=4.2, win-acme, Posh, uacme) are accepted: 201 with a valid account', async () => {
    trustAcmeServerCa(gateway.rootPem());
    for (const [alg, hash] of [['HS384', 'sha384'], ['HS512', 'sha512']] as const) {
      const eab = await mintEabKey(h, gateway, `raw-${alg}`);
      const { client } = await newAcmeClient(gateway);
      const newAccountUrl = await resourceUrl(client, 'newAccount');
      // RFC 8555 §7.3.4: protected {alg, kid, url}, payload = the account JWK, MAC'd with the key.
      const jwk = (internalHttp(client) as unknown as { getJwk(): Record<string, string> }).getJwk();
      const protectedB64 = Buffer.from(JSON.stringify({ alg, kid: eab.keyId, url: newAccountUrl })).toString('base64url');
      const payloadB64 = Buffer.from(JSON.stringify(jwk)).toString('base64url');
      const signature = createHmac(hash, Buffer.from(eab.hmacKey, 'base64url')).update(`${protectedB64}.${payloadB64}`).digest('base64url');
      const res = await signedPost(
        client,
        newAccountUrl,
        { termsOfServiceAgreed: true, externalAccountBinding: { protected: protectedB64, payload: payloadB64, signature } },
        { jwk: true },
      );
      expect(res.status, `${alg}: ${JSON.stringify(res.data)}`).toBe(201);
      expect((res.data as { status: string }).status).toBe('valid');
      expect((await listKeys()).find((k) => k.id === eab.keyId)?.boundAccountId).toBeTruthy();
    }
  });
});
