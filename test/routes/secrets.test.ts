import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eabCommand } from '../../src/cli/eab.js';
import { parseConfig } from '../../src/config/load.js';
import { buildGateway } from '../../src/deps.js';
import { startPcaSimulator, type RunningSimulator } from '../../src/pca/simulator/index.js';
import { createLogger } from '../../src/platform/logger.js';
import { AcmeTestClient, startTestGateway, type TestGateway } from '../harness.js';

// PCA credentials never leave the process (issue 9 item 8). A gateway with pca.kind ncp, its keys
// read from pca.accessKeyFile / pca.secretKeyFile, talks to a PCA simulator that knows the same keys;
// at log level debug it issues, serves, revokes and fails, and the secret (and the access key) is
// in none of its log lines, the simulator's, the responses (problems and /metrics included), the
// admin commands' output or the error of a start that cannot reach the PCA. The test's logger has no
// `secrets` to scrub: what it proves is that nothing logs them, not that the scrubber caught them.

const SECRET = 'Tz8hN2pQ-secret-for-the-test-5e1f7a9b';
const ACCESS = 'ncp_iam_BPAMKR3test0ACCESS';

const log: string[] = [];
const destination = new Writable({
  write(chunk, _enc, done) {
    log.push(String(chunk));
    done();
  },
});
/** Everything a client or an operator could see: response heads and bodies, command output. */
const seen: string[] = [];

let dir: string;
let sim: RunningSimulator;
let t: TestGateway;
let pcaConfig: Record<string, unknown>;

const record = <R extends { status: number; headers: Headers; text: string }>(label: string, r: R): R => {
  seen.push(`${label} ${r.status} ${JSON.stringify([...r.headers])} ${r.text}`);
  return r;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'acme-secrets-'));
  const logger = createLogger({ level: 'debug', destination });
  sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey: ACCESS, secretKey: SECRET, logger: logger.child({ component: 'pca-simulator' }) });
  writeFileSync(join(dir, 'secret-key'), `${SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'access-key'), `${ACCESS}\n`, { mode: 0o600 });
  pcaConfig = { kind: 'ncp', endpoint: sim.url, caTag: sim.caTag, secretKeyFile: join(dir, 'secret-key'), accessKeyFile: join(dir, 'access-key') };
  t = await startTestGateway({ dir: join(dir, 'gw'), config: { pca: pcaConfig, logging: { level: 'debug' } }, overrides: { logger } });
}, 60_000);
afterAll(async () => {
  await t?.close();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PCA credentials from files', () => {
  it('reach the PCA: a certificate is issued, downloaded and revoked', async () => {
    expect(t.gw.config.pca.secretKey).toBe(SECRET); // read from the file, newline dropped
    const c = await AcmeTestClient.withAccount(t);
    const issued = await c.issue(['secret-test.example.com']);
    const cert = record('certificate', await c.download(issued.certUrl));
    expect(cert.status).toBe(200);
    const der = Buffer.from(cert.text.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s/g, ''), 'base64');
    expect(record('revoke', await c.post(t.url('revokeCert'), { certificate: der.toString('base64url') })).status).toBe(200);
  });

  it('a PCA that refuses to sign ends the order with a problem that carries no credential', async () => {
    const c = await AcmeTestClient.withAccount(t);
    const created = await c.newOrder(['refused.example.com']);
    await c.completeAuthorizations(created.body);
    const ready = await c.poll(created.location!, (b) => b.status === 'ready');
    sim.faults.set({ errorRate: 1, errorStatus: 400, errorCode: 'INVALID_CSR', endpoints: ['sign'] });
    try {
      record('finalize', await c.finalize(ready.body.finalize, ['refused.example.com']));
      const order = record('order', await c.poll(created.location!, (b) => b.status === 'invalid', 10_000));
      expect(order.body.status).toBe('invalid');
      expect(order.body.error).toMatchObject({ type: expect.stringMatching(/^urn:ietf:params:acme:error:/) });
    } finally {
      sim.faults.set({});
    }
  });

  it('client mistakes, the directory, /readyz and /metrics are recorded too', async () => {
    const c = await AcmeTestClient.withAccount(t);
    record('bad nonce', await c.post(t.url('newOrder'), { identifiers: [] }, { nonce: 'AAAA' }));
    record('bad payload', await c.post(t.url('newOrder'), { identifiers: 'x' }));
    const res = await t.request('/directory');
    record('/directory', { status: res.status, headers: res.headers, text: await res.text() });
    // The operations endpoints live on the admin listener (issue 13), the console and the API included.
    for (const path of ['/readyz', '/metrics', '/livez', '/', '/api/orders', '/api/summary']) {
      const res = await t.admin(path);
      record(`admin ${path}`, { status: res.status, headers: res.headers, text: await res.text() });
    }
  });

  it('admin commands print no credential', async () => {
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, JSON.stringify({ storage: { sqlite: t.sqlitePath }, pca: pcaConfig, logging: { level: 'debug' } }));
    for (const args of [['create', '--label', 'secrets'], ['list'], ['list', '--json']]) {
      let out = '';
      const stream = new Writable({
        write(chunk, _enc, done) {
          out += String(chunk);
          done();
        },
      });
      expect(await eabCommand([...args, '--config', configFile], stream)).toBe(0);
      seen.push(`eab ${args.join(' ')}: ${out}`);
    }
  });

  it('a start that cannot authenticate to the PCA fails with an error naming no credential', async () => {
    const wrong = 'W'.repeat(12) + '-wrong-secret-value';
    const config = parseConfig({
      server: { tls: { mode: 'pca' }, externalUrl: 'https://acme.test' },
      storage: { sqlite: join(dir, 'wrong', 'gateway.sqlite') },
      pca: { ...pcaConfig, secretKeyFile: undefined, secretKey: wrong, trustAnchorFile: sim.rootPemPath },
    });
    const gw = await buildGateway(config, { logger: createLogger({ level: 'debug', destination }), defaultMetrics: false });
    try {
      const err = await gw.servingCertificate!.init().then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      seen.push(`start: ${err!.message} ${err!.stack}`);
      expect(err!.message).not.toContain(wrong);
    } finally {
      await gw.close();
    }
  });

  it('the secret and the access key appear in no log line, response or output', () => {
    expect(log.length).toBeGreaterThan(10);
    // The debug lines are there: the PCA calls themselves are logged (method, path, status).
    expect(log.some((l) => l.includes('"pca call"') && l.includes('/cert/sign'))).toBe(true);
    const everything = [...log, ...seen].join('\n');
    expect(seen.length).toBeGreaterThan(8);
    for (const value of [SECRET, ACCESS]) {
      expect(everything.includes(value), `${value} leaked`).toBe(false);
      expect(everything.includes(JSON.stringify(value).slice(1, -1))).toBe(false);
    }
  });
});
