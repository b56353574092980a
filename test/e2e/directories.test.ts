import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { attachCertbotLog, certbotCertonly, type CertbotSetup } from './support/certbot.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { legoRunHttp01, type LegoSetup } from './support/lego.js';
import { opensslVerify } from './support/openssl.js';

// Issue 9: two directories in one gateway, backed by two CAs of the embedded simulator (one port,
// one caTag each, roots at <simulator.dataDir>/<caTag>/root.pem). certbot uses one, lego the other;
// each chain verifies (openssl) to its own directory's root and not to the other's. certbot asking
// for a name outside its directory's policy fails, and its output names the rule. The gateway's own
// HTTPS certificate comes from the default directory's CA, so both clients trust that root to talk.

const certbotBin = requireBinary('certbot');
const legoBin = requireBinary('lego');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('directories.test.ts');

describe.skipIf(certbotBin.skip || legoBin.skip || challBin.skip)('two directories, two CAs', () => {
  let gateway: Gateway;
  let paymentsRoot: string;
  let platformRoot: string;
  let certbot: CertbotSetup;
  const urlOf = (name: string) => `${gateway.externalUrl}/${name}/directory`;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, {
      dnsResolvers: [dns.dnsAddress],
      extraConfig: {
        directories: {
          payments: {
            pca: { kind: 'simulator', caTag: 'payments-ca', period: 30 },
            policy: { allowedSuffixes: ['payments.e2e.test'], deniedNames: ['admin.payments.e2e.test'], wildcards: false },
          },
          platform: { pca: { kind: 'simulator', caTag: 'platform-ca' }, policy: { allowedSuffixes: ['platform.e2e.test'] } },
        },
      },
    });
    const simulatorDir = path.dirname(gateway.rootPemPath);
    paymentsRoot = path.join(simulatorDir, 'payments-ca', 'root.pem');
    platformRoot = path.join(simulatorDir, 'platform-ca', 'root.pem');
    certbot = { directoryUrl: urlOf('payments'), caBundlePath: gateway.rootPemPath, httpPort: gateway.validationHttpPort, baseDir: h.tempDir('certbot-payments') };
    attachCertbotLog(h, certbot);
  });

  it('each directory is served under its name, and each CA has its own root file', async () => {
    for (const root of [gateway.rootPemPath, paymentsRoot, platformRoot]) expect(fs.existsSync(root), root).toBe(true);
    const roots = new Set([gateway.rootPemPath, paymentsRoot, platformRoot].map((p) => fs.readFileSync(p, 'utf8')));
    expect(roots.size).toBe(3);
    // The banner lists every directory URL and its root.
    const banner = gateway.process().output();
    for (const name of ['payments', 'platform']) expect(banner).toContain(urlOf(name));
    expect(banner).toContain(`trust this root: ${paymentsRoot}`);
    expect(banner).toContain(`trust this root: ${platformRoot}`);
  });

  it('certbot on payments: a chain that verifies to the payments root, not to the platform or default root', async () => {
    const { result, lineage } = await certbotCertonly(h, certbot, ['web.payments.e2e.test']);
    expect(result.stdout + result.stderr).toMatch(/Successfully received certificate/);
    const fullchain = fs.readFileSync(lineage.fullchainPath, 'utf8');
    opensslVerify(paymentsRoot, fullchain, { sans: ['web.payments.e2e.test'] });
    expect(() => opensslVerify(platformRoot, fullchain)).toThrow(/openssl verify/);
    expect(() => opensslVerify(gateway.rootPemPath, fullchain)).toThrow(/openssl verify/);
  });

  it('lego on platform: a chain that verifies to the platform root, not to the payments root', async () => {
    const lego: LegoSetup = { directoryUrl: urlOf('platform'), caBundlePath: gateway.rootPemPath, basePath: h.tempDir('lego-platform'), email: 'platform@example.com' };
    const { files } = await legoRunHttp01(h, lego, ['api.platform.e2e.test'], { httpPort: gateway.validationHttpPort });
    const bundle = fs.readFileSync(files.crtPath, 'utf8');
    opensslVerify(platformRoot, bundle, { sans: ['api.platform.e2e.test'] });
    expect(() => opensslVerify(paymentsRoot, bundle)).toThrow(/openssl verify/);
  });

  it('certbot asking payments for a name outside its policy fails, and says which rule', async () => {
    // Debian's certbot 2.1.0 on Python 3.11 prints every ACME error of newOrder as "AttributeError:
    // can't set attribute" (certbot/certbot#9539, fixed in 2.2); with -vv it also prints the
    // traceback that carries the server's problem, and its debug log always does.
    const log = () => fs.readFileSync(path.join(certbot.baseDir, 'logs', 'letsencrypt.log'), 'utf8');
    const { result } = await certbotCertonly(h, certbot, ['api.platform.e2e.test'], { certName: 'outside', expectOk: false, extraArgs: ['-vv'] });
    expect(result.code).not.toBe(0);
    const rule = 'the issuance policy refuses "api.platform.e2e.test": the name is under none of payments.e2e.test (allowedSuffixes of directory "payments")';
    expect(result.stdout + result.stderr).toContain(`urn:ietf:params:acme:error:rejectedIdentifier :: The server will not issue certificates for the identifier :: ${rule}`);
    expect(log()).toContain(rule);

    const denied = await certbotCertonly(h, certbot, ['admin.payments.e2e.test'], { certName: 'denied', expectOk: false, extraArgs: ['-vv'] });
    expect(denied.result.code).not.toBe(0);
    expect(denied.result.stdout + denied.result.stderr).toContain('"admin.payments.e2e.test": the name is denied (deniedNames of directory "payments")');
  });
});
