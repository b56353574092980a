import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { startCaddy, waitForServedChain, type Caddy } from './support/caddy.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';
import { validChallengeTypes } from './support/protocol.js';

// Issue 3: Caddy (Debian 2.6.2) with its automatic HTTPS pointed at the gateway (global acme_ca +
// acme_ca_root), on non-privileged ports that are the gateway's validation ports, obtains one
// certificate via tls-alpn-01 (RFC 8737) and one via http-01, and serves them. Caddy/acmez is the
// strict client for content types and "ready after finalize" (spec acme-interop §3).

const caddyBin = requireBinary('caddy');
const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-caddy.test.ts');

describe.skipIf(caddyBin.skip || challBin.skip)('Caddy 2.6 automatic HTTPS against the gateway', () => {
  let gateway: Gateway;
  let caddy: Caddy;
  const alpnName = 'caddy-alpn.e2e.test';
  const httpName = 'caddy-http.e2e.test';

  beforeAll(async () => {
    const dns = await startChallTestSrv(h);
    gateway = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
    caddy = await startCaddy(h, {
      directoryUrl: gateway.directoryUrl,
      rootPemPath: gateway.rootPemPath,
      httpPort: gateway.validationHttpPort,
      httpsPort: gateway.tlsAlpnPort,
      sites: [
        { name: alpnName, challenge: 'tls-alpn-01', body: 'served over tls-alpn-01 cert' },
        { name: httpName, challenge: 'http-01', body: 'served over http-01 cert' },
      ],
    });
  });

  it('obtains a certificate via tls-alpn-01 and serves it (chain verifies, names the site)', async () => {
    const served = await waitForServedChain(caddy, gateway.tlsAlpnPort, alpnName, gateway.rootPem());
    expect(served.body).toMatch(/^HTTP\/1\.1 200/);
    expect(served.body).toContain('served over tls-alpn-01 cert');
    opensslVerify(gateway.rootPemPath, served.pems.join(''), { sans: [alpnName] });
    expect(validChallengeTypes(gateway, alpnName)).toEqual(['tls-alpn-01']);
  });

  it('obtains a certificate via http-01 and serves it (chain verifies, names the site)', async () => {
    const served = await waitForServedChain(caddy, gateway.tlsAlpnPort, httpName, gateway.rootPem());
    expect(served.body).toMatch(/^HTTP\/1\.1 200/);
    expect(served.body).toContain('served over http-01 cert');
    opensslVerify(gateway.rootPemPath, served.pems.join(''), { sans: [httpName] });
    expect(validChallengeTypes(gateway, httpName)).toEqual(['http-01']);
  });
});
