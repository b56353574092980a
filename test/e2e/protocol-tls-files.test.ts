import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acme, acmeClientAutoHttp01, startHttp01Responder, trustAcmeServerCa, type Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';

// server.tls.mode "files": the listener serves a certificate and key given as files. The files come
// from a first run in mode "pca" (which keeps its serving certificate beside the database); the second
// gateway uses the same simulator data, so the same root verifies both its HTTPS and what it issues.

const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-tls-files.test.ts');

describe.skipIf(challBin.skip)('tls.mode files', () => {
  let responder: Http01Responder | undefined;
  afterAll(async () => {
    await responder?.close();
  });

  it('serves HTTPS from certFile/keyFile and issues through it', async () => {
    const dns = await startChallTestSrv(h);
    const first = await startGateway(h, { dnsResolvers: [dns.dnsAddress] });
    await first.stop();
    const second = await startGateway(h, {
      dnsResolvers: [dns.dnsAddress],
      extraConfig: {
        server: { tls: { mode: 'files', certFile: path.join(first.dataDir, 'serving-cert.pem'), keyFile: path.join(first.dataDir, 'serving-key.pem') } },
      },
      simulatorDataDir: path.join(first.dataDir, 'pca'),
    });
    expect(second.directoryUrl).toMatch(/^https:/);
    trustAcmeServerCa(first.rootPem());
    responder = await startHttp01Responder(second.validationHttpPort);
    const client = new acme.Client({ directoryUrl: second.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'), backoffMin: 100, backoffMax: 500 });
    const issued = await acmeClientAutoHttp01(client, responder, ['files.e2e.test']);
    opensslVerify(first.rootPemPath, issued.certificatePem, { sans: ['files.e2e.test'] });
  });
});
