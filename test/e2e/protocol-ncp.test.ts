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
import { X509Crl } from '@peculiar/x509';
import { attachCertbotLog, certbotCertonly, certbotRevoke, type CertbotSetup } from './support/certbot.js';
import { issueHttp01, newAcmeClient, normalizeHex } from './support/protocol.js';

// pca.kind "ncp": the gateway talks to an NCP Private CA endpoint given by URL and credentials, here
// the simulator run on its own (`acme-pca-gateway pca-simulator`), exactly as it would talk to
// https://pca.apigw.ntruss.com. Also: wrong credentials stop the gateway at start with the PCA's 401,
// and the secret never appears in what it prints.

const challBin = requireBinary('pebble-challtestsrv');
const certbotBin = requireBinary('certbot');
const h = useHarness('protocol-ncp.test.ts');
const ACCESS_KEY = 'ncp-e2e-access';
const SECRET_KEY = 'ncp-e2e-secret-do-not-print';
const CA_TAG = '0a1b2c3d-4e5f6a7b';

/** The simulator on its own, strict as it is by default (key rule "ca": its EC256 CA signs EC256 only); `flags` add behaviours. */
async function startStandaloneSimulator(flags: string[] = []): Promise<{ url: string; dataDir: string }> {
  await ensureGatewayBuilt();
  const dataDir = h.tempDir('ncp-sim');
  const port = await h.freePort();
  const proc = h.spawn('pca-simulator', process.execPath, [
    gatewayEntry(), 'pca-simulator', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--access-key', ACCESS_KEY, '--secret-key', SECRET_KEY, '--ca-tag', CA_TAG, ...flags,
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
    // The strict simulator's CA is EC256 and, like NAVER's issuer assumes, signs its own key type only.
    const issued = await acmeClientAutoHttp01(client, responder, ['ncp.e2e.test'], { keyPem: await acme.crypto.createPrivateEcdsaKey('P-256') });
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

/** Sets the standalone simulator's run-time behaviour (PUT /_simulator/faults); {} restores the configured one. */
async function setBehaviour(simUrl: string, behaviour: Record<string, unknown>): Promise<void> {
  const res = await httpRequest(`${simUrl}/_simulator/faults`, { method: 'PUT', body: JSON.stringify(Object.keys(behaviour).length ? { behaviour } : {}), headers: { 'content-type': 'application/json' }, timeoutMs: 5_000, freshConnection: true });
  if (res.status !== 200 && res.status !== 204) throw new Error(`PUT /_simulator/faults -> ${res.status} ${res.body}`);
}

async function crlSerials(simUrl: string): Promise<string[]> {
  const res = await fetch(`${simUrl}/ext/${CA_TAG}/crl`);
  expect(res.status).toBe(200);
  return new X509Crl(Buffer.from(await res.arrayBuffer())).entries.map((e) => normalizeHex(e.serialNumber));
}

// Issue 10: first contact. The strict standalone simulator plays NAVER's PCA: an EC256 CA that
// signs EC256 keys only, its CRL published on an hour's cycle (so only the gateway's rotation after a
// revocation can make it list a serial at once).
describe.skipIf(challBin.skip || certbotBin.skip)('issue 10: the gateway against the strict standalone simulator (pca.kind ncp)', () => {
  let sim: { url: string; dataDir: string };
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let responder: Http01Responder | undefined;
  let certbot: CertbotSetup;

  afterAll(async () => {
    await responder?.close();
  });

  it('certbot gets a certificate through pca.kind ncp, and the CRL lists its serial right after certbot revoke', async () => {
    sim = await startStandaloneSimulator(['--crl-cycle-ms', '3600000']);
    const dns = await startChallTestSrv(h);
    const validationHttpPort = await h.freePort();
    const tlsAlpnPort = await h.freePort();
    gateway = await startGateway(h, {
      validationHttpPort,
      tlsAlpnPort,
      dnsResolvers: [dns.dnsAddress],
      simulatorDataDir: sim.dataDir,
      extraConfig: {
        pca: { kind: 'ncp', endpoint: sim.url, caTag: CA_TAG, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, caRefreshMs: 1_000 },
        validation: { httpPort: validationHttpPort, tlsAlpnPort, dnsResolvers: [dns.dnsAddress], allowedCidrs: ['127.0.0.1/32'] },
      },
    });
    trustAcmeServerCa(gateway.rootPem());
    certbot = { directoryUrl: gateway.directoryUrl, caBundlePath: gateway.rootPemPath, httpPort: gateway.validationHttpPort, baseDir: h.tempDir('certbot-ncp') };
    attachCertbotLog(h, certbot);
    const { result, lineage } = await certbotCertonly(h, certbot, ['certbot.ncp.e2e.test']);
    expect(result.stdout + result.stderr).toMatch(/Successfully received certificate/);
    const cert = opensslVerify(path.join(sim.dataDir, 'root.pem'), fs.readFileSync(lineage.fullchainPath, 'utf8'), { sans: ['certbot.ncp.e2e.test'] });
    const serial = normalizeHex(cert.serial);
    expect(await crlSerials(sim.url)).not.toContain(serial);

    const revoked = await certbotRevoke(h, certbot, 'certbot.ncp.e2e.test');
    expect(revoked.stdout + revoked.stderr).toMatch(/successfully revoked/i);
    // Right after: the gateway rotated the CRL (POST /crl/rotate); the cycle alone would take an hour.
    expect(await crlSerials(sim.url)).toContain(serial);
    expect(gateway.process().output()).not.toContain(SECRET_KEY);
  });

  it('a P-384 CSR against the EC256-only CA: badCSR listing the accepted key types, nothing relayed', async () => {
    responder = await startHttp01Responder(gateway.validationHttpPort);
    const { client } = await newAcmeClient(gateway);
    await client.createAccount({ termsOfServiceAgreed: true });
    const before = await signCalls(sim.url);
    const p384 = await acme.crypto.createPrivateEcdsaKey('P-384');
    const err = await issueHttp01(client, responder, { identifiers: [{ type: 'dns', value: 'p384.ncp.e2e.test' }] }, { keyPem: p384 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/key type ecdsa-p384 cannot be issued here: the Private CA's key is EC256 and it signs keys of its own type only \(accepted: ecdsa-p256\)/);
    expect(await signCalls(sim.url)).toBe(before);
  });

  it("an order asking for a notAfter past the CA's end: malformed, naming the CA's end", async () => {
    const { client } = await newAcmeClient(gateway);
    await client.createAccount({ termsOfServiceAgreed: true });
    await setBehaviour(sim.url, { caExpiresInDays: 30 });
    try {
      const notAfter = new Date(Date.now() + 60 * 86_400_000).toISOString();
      // The gateway reads the CA again every second (pca.caRefreshMs): within a few it knows the new end.
      let message = '';
      for (let i = 0; i < 20 && !message; i++) {
        message = await client.createOrder({ identifiers: [{ type: 'dns', value: 'late.ncp.e2e.test' }], notAfter } as never).then(
          () => '',
          (e: Error) => e.message,
        );
        if (!message) await sleep(500);
      }
      expect(message).toMatch(/^notAfter \S+ is past the end of the Private CA's certificate \(\d{4}-\d\d-\d\dT[^)]+\): a certificate cannot outlive the CA that signs it/);
    } finally {
      await setBehaviour(sim.url, {});
    }
  });

  it('pca check (the built command) against the standalone simulator: 0 when ready; each first-contact failure its own message and exit code; no key printed', async () => {
    const dir = h.tempDir('pca-check');
    const run = async (pca: Record<string, unknown> = {}) => {
      const file = path.join(dir, `check-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, stringify({ pca: { kind: 'ncp', endpoint: sim.url, caTag: CA_TAG, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, ...pca } }));
      const r = await h.run(process.execPath, [gatewayEntry(), 'pca', 'check', '--config', file], { cwd: repoRoot, timeoutMs: 60_000, env: { ...process.env, NCP_ACCESS_KEY: '', NCP_SECRET_KEY: '' } });
      const printed = r.stdout + r.stderr;
      expect(printed).not.toContain(SECRET_KEY);
      expect(printed).not.toContain('wrong-secret-for-check');
      expect(printed).not.toContain(ACCESS_KEY);
      return { code: r.code, out: printed };
    };
    const ok = await run({ trustAnchorFile: path.join(sim.dataDir, 'root.pem') });
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/CA +ACTIVE PRIVATE_SUB, subject .*, key EC256/);
    expect(ok.out).toMatch(/\(\d+ days left\)/);
    expect(ok.out).toMatch(/chain +2 certificate\(s\); verifies to pca.trustAnchorFile/);
    expect(ok.out).toMatch(/list paging +as expected/);
    expect(ok.out).toMatch(/the longest period the gateway can ask for: \d+ days/);

    const seen = new Map<number, string>();
    const expectFailure = (r: { code: number | null; out: string }, code: number, message: RegExp) => {
      expect(r.code, r.out).toBe(code);
      expect(r.out).toMatch(message);
      seen.set(code, r.out);
    };
    expectFailure(await run({ secretKey: 'wrong-secret-for-check' }), 10, /refused the API key \(HTTP 401/);
    expectFailure(await run({ caTag: '00000000-00000000' }), 12, /the PCA knows no CA 00000000-00000000/);
    await setBehaviour(sim.url, { clockOffsetMs: 10 * 60_000 });
    expectFailure(await run(), 13, /this host's clock is \d+ s behind the PCA gateway's .*NTP/s);
    await setBehaviour(sim.url, { caStatus: 'DISABLED' });
    expectFailure(await run(), 20, /the CA 0a1b2c3d-4e5f6a7b is DISABLED, not ACTIVE/);
    await setBehaviour(sim.url, { listPaging: 'ignored' });
    expectFailure(await run(), 22, /the PCA answered page 1 when asked for page 2: it does not honour pageNo/);
    await setBehaviour(sim.url, {});
    expect(seen.size).toBe(5);
  });
});

async function signCalls(simUrl: string): Promise<number> {
  const res = await httpRequest(`${simUrl}/_simulator/calls`, { timeoutMs: 5_000, freshConnection: true });
  return (JSON.parse(res.body) as { sign?: number }).sign ?? 0;
}
