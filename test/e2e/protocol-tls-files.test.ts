import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { acme, acmeClientAutoHttp01, startHttp01Responder, trustAcmeServerCa, type Http01Responder } from './support/acmeClient.js';
import { splitPemCerts } from './chaos-support/checks.js';
import { requireBinary } from './support/binaries.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { opensslVerify } from './support/openssl.js';

// server.tls.mode "files": the listener serves a certificate and key given as files. The files come
// from a first run in mode "pca" (which keeps its serving certificate beside the database); the second
// gateway uses the same simulator data, so the same root verifies both its HTTPS and what it issues.

const challBin = requireBinary('pebble-challtestsrv');

/** The certificates the listener at `url` presents in its TLS handshake, leaf first (not verified here). */
function servedChain(url: URL): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: Number(url.port), servername: url.hostname, rejectUnauthorized: false }, () => {
      const chain: X509Certificate[] = [];
      let cert = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        chain.push(new X509Certificate(cert.raw));
        cert = cert.issuerCertificate;
      }
      socket.destroy();
      resolve(chain);
    });
    socket.once('error', reject);
  });
}
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
    const certFile = path.join(first.dataDir, 'serving-cert.pem');
    const filePems = splitPemCerts(fs.readFileSync(certFile, 'utf8'));
    expect(filePems.length).toBeGreaterThanOrEqual(2);
    const second = await startGateway(h, {
      dnsResolvers: [dns.dnsAddress],
      extraConfig: {
        server: { tls: { mode: 'files', certFile, keyFile: path.join(first.dataDir, 'serving-key.pem') } },
      },
      simulatorDataDir: path.join(first.dataDir, 'pca'),
    });
    expect(second.directoryUrl).toMatch(/^https:/);
    // What a client is shown over TLS is the certificate in certFile (leaf and chain), not one the
    // gateway made itself; and the file is left as it was.
    const served = await servedChain(new URL(second.directoryUrl));
    expect(served.map((c) => c.fingerprint256)).toEqual(filePems.map((p) => new X509Certificate(p).fingerprint256));
    expect(splitPemCerts(fs.readFileSync(certFile, 'utf8'))).toEqual(filePems);
    trustAcmeServerCa(first.rootPem());
    responder = await startHttp01Responder(second.validationHttpPort);
    const client = new acme.Client({ directoryUrl: second.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'), backoffMin: 100, backoffMax: 500 });
    const issued = await acmeClientAutoHttp01(client, responder, ['files.e2e.test']);
    opensslVerify(first.rootPemPath, issued.certificatePem, { sans: ['files.e2e.test'] });
  });
});
