import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import {
  attachCertbotLog,
  certbotAccountIds,
  certbotAccountUri,
  certbotCertonly,
  certbotLineage,
  certbotRenew,
  certbotRevoke,
  type CertbotSetup,
} from './support/certbot.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';

// certbot (Debian bookworm 2.1.0), standalone http-01, against the built gateway over https
// (REQUESTS_CA_BUNDLE = the simulator root). Names under .test are fine for certbot: its domain
// sanity check only rejects IPs, bad labels and names without a dot (spec acme-interop §2).

const certbotBin = requireBinary('certbot');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('certbot.test.ts');

describe.skipIf(certbotBin.skip || challBin.skip)('certbot 2.x against the gateway', () => {
  let gateway: Gateway;
  let certbot: CertbotSetup;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
    certbot = {
      directoryUrl: gateway.directoryUrl,
      caBundlePath: gateway.rootPemPath,
      httpPort: gateway.validationHttpPort,
      baseDir: h.tempDir('certbot'),
    };
    attachCertbotLog(h, certbot);
  });

  it('certonly --standalone (http-01) registers an account and saves a chain that openssl verifies', async () => {
    const { result, lineage } = await certbotCertonly(h, certbot, ['web1.e2e.test']);
    expect(result.stdout + result.stderr).toMatch(/Successfully received certificate/);

    const full = opensslVerify(gateway.rootPemPath, fs.readFileSync(lineage.fullchainPath, 'utf8'), { sans: ['web1.e2e.test'] });
    // certbot splits the body into cert.pem + chain.pem itself; both halves must be usable (spec §1.32).
    const split = opensslVerify(gateway.rootPemPath, {
      leaf: fs.readFileSync(lineage.certPath, 'utf8'),
      chain: fs.readFileSync(lineage.chainPath, 'utf8'),
    });
    expect(split.serial).toBe(full.serial);
    expect(certbotAccountIds(certbot)).toHaveLength(1);
    expect(certbotAccountUri(certbot)?.startsWith(`${gateway.externalUrl}/`)).toBe(true);
    expect(result.stdout + result.stderr).toMatch(/Account registered/);
  });

  it('renew --force-renewal replaces the certificate with a new one that verifies', async () => {
    const lineage = certbotLineage(certbot, 'web1.e2e.test');
    const before = opensslVerify(gateway.rootPemPath, fs.readFileSync(lineage.fullchainPath, 'utf8'));

    const result = await certbotRenew(h, certbot);
    expect(result.stdout + result.stderr).toMatch(/all renewals succeeded/i);

    const renewed = opensslVerify(gateway.rootPemPath, fs.readFileSync(lineage.fullchainPath, 'utf8'), { sans: ['web1.e2e.test'] });
    expect(renewed.serial).not.toBe(before.serial);
  });

  it('after a gateway restart the same certbot account issues again without re-registering', async () => {
    const accountsBefore = certbotAccountIds(certbot);
    const accountUri = certbotAccountUri(certbot);
    expect(accountsBefore).toHaveLength(1);

    await gateway.restart();

    const { result, lineage } = await certbotCertonly(h, certbot, ['web2.e2e.test']);
    expect(result.stdout + result.stderr).not.toMatch(/Account registered/i);
    expect(certbotAccountIds(certbot)).toEqual(accountsBefore);
    expect(certbotAccountUri(certbot)).toBe(accountUri);
    opensslVerify(gateway.rootPemPath, fs.readFileSync(lineage.fullchainPath, 'utf8'), { sans: ['web2.e2e.test'] });
  });

  it('revoke --cert-name (account-signed revokeCert) succeeds', async () => {
    // certbot 2.1 accepts only HTTP 200 for revokeCert (spec §1.38).
    const result = await certbotRevoke(h, certbot, 'web2.e2e.test');
    expect(result.stdout + result.stderr).toMatch(/successfully revoked/i);
  });
});
