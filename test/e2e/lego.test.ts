import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { startChallTestSrv, type ChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { legoRunDns01, legoRunHttp01, legoRunTlsAlpn01, type LegoSetup } from './support/lego.js';
import { opensslVerify, splitPemCertificates } from './support/openssl.js';

// lego (Debian bookworm 4.9.1) against the built gateway over https (LEGO_CA_CERTIFICATES = the
// simulator root): dns-01 for a wildcard + its apex through the exec provider and
// pebble-challtestsrv, then http-01 (run + renew) and tls-alpn-01 with lego's own responders.

const legoBin = requireBinary('lego');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('lego.test.ts');

describe.skipIf(legoBin.skip || challBin.skip)('lego 4.x against the gateway', () => {
  let gateway: Gateway;
  let dns: ChallTestSrv;

  const newLego = (label: string): LegoSetup => ({
    directoryUrl: gateway.directoryUrl,
    caBundlePath: gateway.rootPemPath,
    basePath: h.tempDir(`lego-${label}`),
    email: `${label}@example.com`,
  });

  beforeAll(async () => {
    dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
  });

  it('dns-01: wildcard + apex in one order; SANs are exactly *.x.e2e.test and x.e2e.test', async () => {
    const lego = newLego('dns');
    const { files } = await legoRunDns01(h, lego, ['*.x.e2e.test', 'x.e2e.test'], {
      resolver: dns.dnsAddress,
      challtestsrvManagementUrl: dns.managementUrl,
    });

    const bundle = fs.readFileSync(files.crtPath, 'utf8');
    opensslVerify(gateway.rootPemPath, bundle, { sans: ['*.x.e2e.test', 'x.e2e.test'] });
    // lego writes the leaf + issuer bundle and the issuer separately; the separate issuer must also chain.
    opensslVerify(gateway.rootPemPath, { leaf: splitPemCertificates(bundle)[0]!, chain: fs.readFileSync(files.issuerPath, 'utf8') });

    // Two authorizations (wildcard and apex share _acme-challenge.x.e2e.test), each really solved via TXT.
    const hookCalls = fs.readFileSync(path.join(lego.basePath, 'lego-dns-hook.log'), 'utf8');
    expect(hookCalls.match(/ present _acme-challenge\.x\.e2e\.test\. /g)).toHaveLength(2);
  });

  it('http-01: run, then renew gives a new certificate that verifies', async () => {
    const lego = newLego('http');
    const domains = ['lego-http.e2e.test', 'www.lego-http.e2e.test'];
    const { files } = await legoRunHttp01(h, lego, domains, { httpPort: gateway.validationHttpPort });
    const first = opensslVerify(gateway.rootPemPath, fs.readFileSync(files.crtPath, 'utf8'), { sans: domains });

    await legoRunHttp01(h, lego, domains, { httpPort: gateway.validationHttpPort, command: 'renew' });
    const renewed = opensslVerify(gateway.rootPemPath, fs.readFileSync(files.crtPath, 'utf8'), { sans: domains });
    expect(renewed.serial).not.toBe(first.serial);
  });

  it('tls-alpn-01 with an RSA-2048 account and certificate key (RS256, RSA CSR)', async () => {
    const lego = newLego('alpn');
    const { files } = await legoRunTlsAlpn01(h, lego, ['lego-alpn.e2e.test'], {
      tlsPort: gateway.tlsAlpnPort,
      keyType: 'rsa2048',
    });
    opensslVerify(gateway.rootPemPath, fs.readFileSync(files.crtPath, 'utf8'), { sans: ['lego-alpn.e2e.test'] });
  });
});
