import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acme, acmeClientAutoHttp01, startHttp01Responder, trustAcmeServerCa, type Http01Responder } from './support/acmeClient.js';
import { requireBinary } from './support/binaries.js';
import { ensureGatewayBuilt, gatewayEntry, repoRoot } from './support/build.js';
import { startChallTestSrv } from './support/challtestsrv.js';
import { startGateway } from './support/gateway.js';
import { useHarness } from './support/harness.js';
import { httpRequest, sleep } from './support/http.js';
import { opensslVerify } from './support/openssl.js';
import { stringify } from 'yaml';
import fs from 'node:fs';

// pca.kind "ncp": the gateway talks to an NCP Private CA endpoint given by URL and credentials, here
// the simulator run on its own (`acme-pca-gateway pca-simulator`), exactly as it would talk to
// https://pca.apigw.ntruss.com. Also: wrong credentials stop the gateway at start with the PCA's 401,
// and the secret never appears in what it prints.

const challBin = requireBinary('pebble-challtestsrv');
const h = useHarness('protocol-ncp.test.ts');
const ACCESS_KEY = 'ncp-e2e-access';
const SECRET_KEY = 'ncp-e2e-secret-do-not-print';
const CA_TAG = '0a1b2c3d-4e5f6a7b';

async function startStandaloneSimulator(): Promise<{ url: string; dataDir: string }> {
  await ensureGatewayBuilt();
  const dataDir = h.tempDir('ncp-sim');
  const port = await h.freePort();
  const proc = h.spawn('pca-simulator', process.execPath, [
    gatewayEntry(), 'pca-simulator', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--access-key', ACCESS_KEY, '--secret-key', SECRET_KEY, '--ca-tag', CA_TAG,
  ], { cwd: repoRoot });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (!proc.isRunning()) throw new Error(`pca-simulator exited:\n${proc.output()}`);
    try {
      // Unauthenticated: the NCP gateway's 401 shape proves it is up.
      const res = await httpRequest(`${url}/api/v1/ca`, { timeoutMs: 1_000 });
      if (res.status === 401) return { url, dataDir };
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`pca-simulator did not answer:\n${proc.output()}`);
    await sleep(100);
  }
}

describe.skipIf(challBin.skip)('pca.kind ncp against a standalone NCP endpoint', () => {
  let responder: Http01Responder | undefined;
  afterAll(async () => {
    await responder?.close();
  });

  it('issues through the NCP client (signature v2, envelope) with the credentials from the config file', async () => {
    const sim = await startStandaloneSimulator();
    const dns = await startChallTestSrv(h);
    // pca.kind ncp is not the trial mode: loopback is denied to the validator unless the operator
    // opens it, as here, where the http-01 responder listens on 127.0.0.1.
    const validationHttpPort = await h.freePort();
    const tlsAlpnPort = await h.freePort();
    const gateway = await startGateway(h, {
      validationHttpPort,
      tlsAlpnPort,
      dnsResolvers: [dns.dnsAddress],
      simulatorDataDir: sim.dataDir,
      extraConfig: {
        pca: { kind: 'ncp', endpoint: sim.url, caTag: CA_TAG, accessKey: ACCESS_KEY, secretKey: SECRET_KEY },
        validation: { httpPort: validationHttpPort, tlsAlpnPort, dnsResolvers: [dns.dnsAddress], allowedCidrs: ['127.0.0.1/32'] },
      },
    });
    trustAcmeServerCa(gateway.rootPem());
    responder = await startHttp01Responder(gateway.validationHttpPort);
    const client = new acme.Client({ directoryUrl: gateway.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'), backoffMin: 100, backoffMax: 500 });
    const issued = await acmeClientAutoHttp01(client, responder, ['ncp.e2e.test']);
    opensslVerify(path.join(sim.dataDir, 'root.pem'), issued.certificatePem, { sans: ['ncp.e2e.test'] });
    expect(gateway.process().output()).not.toContain(SECRET_KEY);
  });

  it('wrong credentials: the gateway stops at start naming the PCA 401, without printing the secret', async () => {
    const sim = await startStandaloneSimulator();
    await ensureGatewayBuilt();
    const dir = h.tempDir('ncp-bad');
    const configPath = path.join(dir, 'gateway.yaml');
    fs.writeFileSync(
      configPath,
      stringify({
        server: { listen: `127.0.0.1:${await h.freePort()}`, externalUrl: 'https://localhost:1', tls: { mode: 'pca' } },
        storage: { sqlite: path.join(dir, 'gateway.sqlite') },
        pca: { kind: 'ncp', endpoint: sim.url, caTag: CA_TAG, accessKey: ACCESS_KEY, secretKey: 'wrong-secret-value' },
      }),
    );
    const result = await h.run(process.execPath, [gatewayEntry(), 'serve', '--config', configPath], { cwd: repoRoot, timeoutMs: 30_000 });
    expect(result.code).not.toBe(0);
    const printed = `${result.stdout}${result.stderr}`;
    expect(printed).toMatch(/401/);
    expect(printed).not.toContain('wrong-secret-value');
  });
});
