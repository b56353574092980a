import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import {
  dehydratedCertificateFiles,
  dehydratedCron,
  dehydratedRegister,
  dehydratedRun,
  writeDehydratedConfig,
  type DehydratedSetup,
} from './support/dehydrated.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import { storedRevocation } from './support/protocol.js';
import { startWebrootResponder, type WebrootResponder } from './support/webroot.js';

// dehydrated (Debian bookworm 0.7.0: bash + curl) over https trusted with CURL_OPTS="--cacert root.pem".
// What it depends on (spec acme-interop §2/§3): standard `Replay-Nonce: value` header lines (it cuts
// them with awk -F ': '), a fresh nonce per request and no badNonce retry, Link headers one per line,
// `processing`/`valid` after finalize (never `ready`), RSA account keys (0.7.0 default 4096 bits),
// `{}` POSTs to the account URL, and a chain it can split itself (API v2: leaf + issuers in one body).

const dehydratedBin = requireBinary('dehydrated');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('dehydrated.test.ts');

describe.skipIf(dehydratedBin.skip || challBin.skip)('dehydrated 0.7.0 against the gateway', () => {
  let gateway: Gateway;
  let responder: WebrootResponder;
  let dehydrated: DehydratedSetup;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
    const baseDir = h.tempDir('dehydrated');
    dehydrated = {
      directoryUrl: gateway.directoryUrl,
      caBundlePath: gateway.rootPemPath,
      baseDir,
      wellknownDir: path.join(baseDir, 'wellknown'),
      contactEmail: 'dehydrated@example.com',
    };
    writeDehydratedConfig(dehydrated);
    responder = await startWebrootResponder(gateway.validationHttpPort, dehydrated.wellknownDir);
  });

  afterAll(async () => {
    await responder?.close();
  });

  it('--register --accept-terms creates an RSA account and stores its URL', async () => {
    const result = await dehydratedRegister(h, dehydrated);
    expect(result.stdout + result.stderr).toMatch(/Registering account key/);
    expect(result.stdout + result.stderr).toMatch(/Done!/);

    const accountDir = fs.readdirSync(path.join(dehydrated.baseDir, 'accounts'));
    expect(accountDir).toHaveLength(1);
    const keyPem = fs.readFileSync(path.join(dehydrated.baseDir, 'accounts', accountDir[0]!, 'account_key.pem'), 'utf8');
    expect(keyPem).toMatch(/BEGIN (RSA )?PRIVATE KEY/);
    // dehydrated 0.7.0 saves the account URL (from Location) as account_id.json {"url": ...}.
    const idJson = JSON.parse(fs.readFileSync(path.join(dehydrated.baseDir, 'accounts', accountDir[0]!, 'account_id.json'), 'utf8')) as { url?: string };
    expect(idJson.url?.startsWith(`${gateway.externalUrl}/`)).toBe(true);
  });

  it('--cron --domain (http-01 from WELLKNOWN) saves cert, chain and fullchain that openssl verifies', async () => {
    const names = ['d1.e2e.test', 'd1-alt.e2e.test'];
    const { result, files } = await dehydratedCron(h, dehydrated, names);
    expect(result.stdout + result.stderr).toMatch(/Done!/);

    const full = opensslVerify(gateway.rootPemPath, fs.readFileSync(files.fullchainPath, 'utf8'), { sans: names });
    // dehydrated splits the server's chain itself (API v2): cert.pem + chain.pem must make the same chain.
    const split = opensslVerify(gateway.rootPemPath, { leaf: fs.readFileSync(files.certPath, 'utf8'), chain: fs.readFileSync(files.chainPath, 'utf8') });
    expect(split.serial).toBe(full.serial);
    // The gateway fetched one token per name from WELLKNOWN, and dehydrated cleaned them up afterwards.
    expect(responder.served()).toHaveLength(2);
    expect(fs.readdirSync(dehydrated.wellknownDir)).toEqual([]);
  });

  it('--cron without --force keeps the certificate; with --force it renews to a new one', async () => {
    const names = ['d1.e2e.test', 'd1-alt.e2e.test'];
    const first = await dehydratedCron(h, dehydrated, names);
    const before = opensslVerify(gateway.rootPemPath, fs.readFileSync(first.files.fullchainPath, 'utf8'));
    expect(first.result.stdout).toMatch(/Skipping renew!/);

    const { result, files } = await dehydratedCron(h, dehydrated, names, { force: true });
    expect(result.stdout).toMatch(/Ignoring because renew was forced/);
    const renewed = opensslVerify(gateway.rootPemPath, fs.readFileSync(files.fullchainPath, 'utf8'), { sans: names });
    expect(renewed.serial).not.toBe(before.serial);
  });

  it('--revoke cert.pem (account-signed) → the gateway records the revocation', async () => {
    const files = dehydratedCertificateFiles(dehydrated, 'd1.e2e.test');
    const certPath = files.certPath;
    const cert = opensslVerify(gateway.rootPemPath, fs.readFileSync(files.fullchainPath, 'utf8'));

    const result = await dehydratedRun(h, dehydrated, ['--revoke', certPath]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Revoking/);
    expect(storedRevocation(gateway, cert.serial)?.status).toBe('revoked');
  });
});
