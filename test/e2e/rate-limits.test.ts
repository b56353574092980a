import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { attachCertbotLog, certbotCertonly, type CertbotSetup } from './support/certbot.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import type { LegoSetup } from './support/lego.js';
import { legoHttp01Run } from './support/lego-more.js';

// Issue 9 item 5: what real clients do with `rateLimited` (RFC 8555 §6.6), for the README. With
// one new order per account per hour, a second certificate for the same account is refused with a
// 429: lego 4.9.1 and certbot 2.1.0 both stop at once (neither retries a 429 or waits for
// Retry-After) and print the server's detail, which names the limit, its value and the wait.

const legoBin = requireBinary('lego');
const certbotBin = requireBinary('certbot');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('rate-limits.test.ts');

const DETAIL = /too many new orders for this account: the limit is 1 per 1h \(rateLimits\.newOrdersPerAccount of the default directory\); retry after \d+ s/;

describe.skipIf(legoBin.skip || certbotBin.skip || challBin.skip)('rate limits with lego and certbot', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress], extraConfig: { rateLimits: { newOrdersPerAccount: { limit: 1, windowSeconds: 3600 } } } });
  });

  it('lego: the second order of its account is refused; lego exits with the rateLimited problem and its detail', async () => {
    const lego: LegoSetup = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, basePath: h.tempDir('lego-limited'), email: 'limited@example.com' };
    await legoHttp01Run(h, lego, ['lego-first.e2e.test'], { httpPort: gateway.validationHttpPort });
    const started = Date.now();
    const { result } = await legoHttp01Run(h, lego, ['lego-second.e2e.test'], { httpPort: gateway.validationHttpPort, expectOk: false });
    expect(result.code).not.toBe(0);
    const out = result.stdout + result.stderr;
    expect(out).toMatch(/acme: error: 429 :: POST :: \S+\/new-order :: urn:ietf:params:acme:error:rateLimited :: /);
    expect(out).toMatch(DETAIL);
    expect(Date.now() - started, 'lego does not wait for Retry-After').toBeLessThan(30_000);
  });

  it('certbot: the same, the detail in its output (-vv: certbot 2.1 on Python 3.11 hides ACME errors, certbot#9539) and its log', async () => {
    const certbot: CertbotSetup = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, httpPort: gateway.validationHttpPort, baseDir: h.tempDir('certbot-limited') };
    attachCertbotLog(h, certbot);
    await certbotCertonly(h, certbot, ['certbot-first.e2e.test']);
    const { result } = await certbotCertonly(h, certbot, ['certbot-second.e2e.test'], { expectOk: false, extraArgs: ['-vv'] });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/urn:ietf:params:acme:error:rateLimited :: There were too many requests of a given type :: too many new orders/);
    expect(fs.readFileSync(path.join(certbot.baseDir, 'logs', 'letsencrypt.log'), 'utf8')).toMatch(DETAIL);
  });
});
