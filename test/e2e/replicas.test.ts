import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { findPostgresBinaries, startPostgresCluster, type PostgresCluster } from '../support/postgres-cluster.js';
import { createTestDatabase } from '../support/postgres-db.js';
import { acme, trustAcmeServerCa } from './support/acmeClient.js';
import { binariesRequired, requireBinary } from './support/binaries.js';
import { attachCertbotLog, certbotCertonly, type CertbotSetup } from './support/certbot.js';
import { startChallTestSrv, type ChallTestSrv } from './support/challtestsrv.js';
import { HAPROXY_BINARY, startHaproxy, type Haproxy } from './support/haproxy.js';
import { useHarness } from './support/harness.js';
import { sleep } from './support/http.js';
import { legoRunDns01, type LegoSetup } from './support/lego.js';
import { opensslVerify } from './support/openssl.js';
import { startStandaloneSimulator, type StandaloneSimulator } from './support/pca-simulator.js';
import { Replica } from './support/replica.js';

// Issue 12: three gateway processes on one PostgreSQL database behind Debian's HAProxy (TCP mode,
// round-robin, no stickiness, /readyz health check, a refused connection retried elsewhere), one
// standalone PCA simulator that all of them sign with (pca.kind ncp). certbot (http-01), lego
// (dns-01) and node acme-client (dns-01) issue certificates at the same time while one replica is
// SIGKILLed and another restarted. A client run may be repeated after a connection reset — and only
// for that. In the end: every run issued, every chain verifies with openssl to the simulator root,
// the simulator never signed one key twice, the serving certificate was signed once for all three,
// requests landed on every replica, no order or job was left behind.

const HOST = 'localhost';
const DOMAIN = 'replicas.e2e.test';
/** Runs of each client (acme-client: per worker), all going on at once. */
const CERTBOT_RUNS = 4;
const LEGO_RUNS = 4;
const ACME_CLIENT_WORKERS = 3;
const ACME_CLIENT_RUNS = 5;
const h = useHarness('replicas.test.ts');
const certbotBin = requireBinary('certbot');
const legoBin = requireBinary('lego');
const challBin = requireBinary('pebble-challtestsrv');
const pgBin = findPostgresBinaries();
const haproxyMissing = !fs.existsSync(HAPROXY_BINARY);
for (const [missing, what] of [[haproxyMissing, `HAProxy (${HAPROXY_BINARY}; apt-get install haproxy)`], [pgBin === null, 'PostgreSQL (apt-get install postgresql)']] as const) {
  if (!missing) continue;
  if (binariesRequired()) throw new Error(`FAILED: ${what} is not installed, and ACME_E2E_REQUIRE_BINARIES=1 requires it`);
  console.warn(`\n********************************************************\n*** SKIPPED: ${what} not installed (the replicas e2e is skipped)\n********************************************************\n`);
}
const EXPECTED_CLIENTS = [
  ...Array<string>(ACME_CLIENT_WORKERS * ACME_CLIENT_RUNS).fill('acme-client'),
  ...Array<string>(CERTBOT_RUNS).fill('certbot'),
  ...Array<string>(LEGO_RUNS).fill('lego'),
];
const skip = certbotBin.skip || legoBin.skip || challBin.skip || haproxyMissing || pgBin === null;

/** What may end a client run that is then run again: the connection, never the protocol. */
const CONNECTION_TROUBLE = /ECONNRESET|ECONNREFUSED|EPIPE|socket hang up|connection reset|Connection aborted|RemoteDisconnected|Connection refused|broken pipe|unexpected EOF|: EOF|closed connection|ConnectionResetError/i;

let cluster: PostgresCluster | undefined;
afterAll(async () => {
  await h.stopAll();
  await cluster?.dispose();
});

interface Issued {
  client: string;
  name: string;
  chainPem: string;
}

describe.skipIf(skip)('three gateway replicas on one PostgreSQL behind HAProxy', () => {
  it('certbot, lego and acme-client issue through the load balancer while a replica is killed and another restarted', async () => {
    cluster = await startPostgresCluster(pgBin!);
    const database = await createTestDatabase(cluster.adminUrl, 'replicas');
    const sim: StandaloneSimulator = await startStandaloneSimulator(h);
    const dns: ChallTestSrv = await startChallTestSrv(h);
    const rootPem = fs.readFileSync(sim.rootPemPath, 'utf8');
    const certbotPort = await h.freePort();
    const lbPort = await h.freePort();
    const kekFile = path.join(h.tempDir('kek'), 'eab-kek.key');
    fs.writeFileSync(kekFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });

    // ---- three replicas, started at once ----
    const config = {
      server: { externalUrl: `https://${HOST}:${lbPort}`, tls: { mode: 'pca' }, finalizeWaitMs: 3_000 },
      storage: { postgres: database.url, poolSize: 5 },
      validation: { httpPort: certbotPort, tlsAlpnPort: await h.freePort(), dnsResolvers: [dns.dnsAddress], allowedCidrs: ['127.0.0.1/32'], timeoutMs: 5_000 },
      pca: { kind: 'ncp', endpoint: sim.url, caTag: sim.caTag, accessKey: sim.accessKey, secretKey: sim.secretKey, period: 30, timeoutMs: 10_000, auditIntervalMs: 5_000 },
      logging: { level: 'info' },
    };
    const replicas = await Promise.all(['r1', 'r2', 'r3'].map((name) => Replica.create(h, { name, config, kekFile, caFile: sim.rootPemPath, host: HOST })));
    const [, r2, r3] = replicas as [Replica, Replica, Replica];
    for (const r of replicas) r.launch();
    await Promise.all(replicas.map((r) => r.ready()));
    // One serving certificate for the three, signed once, served by each.
    const servingSigned = async () => (await sim.issued()).filter((c) => c.names.includes(HOST)).length;
    expect(await servingSigned()).toBe(1);
    expect(new Set(await Promise.all(replicas.map((r) => r.servedFingerprint()))).size).toBe(1);

    const lb: Haproxy = await startHaproxy(h, { port: lbPort, backends: replicas.map((r) => ({ name: r.name, port: r.port, adminPort: r.adminPort })) });
    await lb.waitUp(3);
    const directoryUrl = `https://${HOST}:${lb.port}/directory`;
    const db = new pg.Pool({ connectionString: database.url, max: 2 });
    const scraper = setInterval(() => {
      for (const r of replicas) if (r.isRunning()) r.scrape().catch(() => undefined);
    }, 1_000);

    // ---- the clients, all at once ----
    const issued: Issued[] = [];
    const retries: string[] = [];
    /** Runs a client until it issues; repeated (at most twice) only when a connection was reset under it. */
    const withRetries = async (label: string, run: () => Promise<Issued>, resetsSince?: (since: number) => string): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const since = Date.now();
        try {
          issued.push(await run());
          return;
        } catch (err) {
          const message = `${(err as Error).message}\n${resetsSince?.(since) ?? ''}`;
          const reason = message.split('\n').find((l) => CONNECTION_TROUBLE.test(l));
          if (attempt >= 3 || !reason) throw err;
          retries.push(`${label} (attempt ${attempt}): ${reason.trim().slice(0, 200)}`);
        }
      }
    };

    const certbot: CertbotSetup = { directoryUrl, caBundlePath: sim.rootPemPath, httpPort: certbotPort, baseDir: h.tempDir('certbot') };
    attachCertbotLog(h, certbot);
    const certbotRuns = async () => {
      for (let i = 0; i < CERTBOT_RUNS; i++) {
        const name = `certbot-${i}.${DOMAIN}`;
        await withRetries(`certbot ${name}`, async () => {
          const { lineage } = await certbotCertonly(h, certbot, [name], { extraArgs: ['--key-type', 'ecdsa'] });
          return { client: 'certbot', name, chainPem: fs.readFileSync(lineage.fullchainPath, 'utf8') };
        });
      }
    };
    const lego: LegoSetup = { directoryUrl, caBundlePath: sim.rootPemPath, basePath: h.tempDir('lego'), email: 'ops@replicas.e2e.test' };
    const legoRuns = async () => {
      for (let i = 0; i < LEGO_RUNS; i++) {
        const name = `lego-${i}.${DOMAIN}`;
        await withRetries(`lego ${name}`, async () => {
          const { files } = await legoRunDns01(h, lego, [name], { resolver: dns.dnsAddress, challtestsrvManagementUrl: dns.managementUrl });
          return { client: 'lego', name, chainPem: fs.readFileSync(files.crtPath, 'utf8') };
        });
      }
    };
    // acme-client's agent opens a connection per request, so each of its orders hops between replicas
    // request by request (a nonce from one is spent on another).
    trustAcmeServerCa(rootPem);
    // acme-client re-sends a request whose connection was reset (signed JWS, spent nonce and all), so
    // a finalize whose answer a killed replica took with it comes back as orderNotReady — the order is
    // already processing, as RFC 8555 §7.4 says. Its own log says when it did ("Caught ECONNRESET,
    // retry attempt 1/5 to URL …"): that is what justifies repeating such a run.
    const acmeLog: { at: number; line: string }[] = [];
    acme.setLogger((line: string) => acmeLog.push({ at: Date.now(), line }));
    const acmeClientResets = (since: number) =>
      acmeLog.filter((l) => l.at >= since && /^Caught (?!HTTP)/.test(l.line)).map((l) => l.line).join('\n');
    const acmeClientRuns = async (worker: number) => {
      const client = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'), backoffMin: 200, backoffMax: 1_000, backoffAttempts: 60 });
      for (let i = 0; i < ACME_CLIENT_RUNS; i++) {
        const name = `acme-client-${worker}-${i}.${DOMAIN}`;
        await withRetries(`acme-client ${name}`, async () => {
          const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] });
          const chainPem = await client.auto({
            csr,
            termsOfServiceAgreed: true,
            challengePriority: ['dns-01'],
            skipChallengeVerification: true,
            challengeCreateFn: async (authz, _challenge, keyAuthorization) => dns.setTxt(`_acme-challenge.${authz.identifier.value}`, keyAuthorization),
            challengeRemoveFn: async (authz) => dns.clearTxt(`_acme-challenge.${authz.identifier.value}`),
          });
          return { client: 'acme-client', name, chainPem };
        }, acmeClientResets);
      }
    };

    // ---- the failures, while the clients run ----
    const until = async (what: string, cond: () => boolean, timeoutMs = 90_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
      }
    };
    // r2 is killed while it runs a job if it gets one soon (then that job's lease must be taken
    // over by another replica once it runs out), after a few certificates; r3 is restarted later.
    let killedOwner: string | undefined;
    let leftRunning: string[] = [];
    const chaos = async () => {
      await until('three certificates', () => issued.length >= 3);
      const busyBy = Date.now() + 15_000;
      while (Date.now() < busyBy && (await r2.scrape().catch(() => null))?.jobsInFlight === 0) await sleep(10);
      killedOwner = r2.jobOwner();
      await r2.kill();
      leftRunning = (await db.query("SELECT id FROM jobs WHERE state = 'running' AND lease_owner = $1", [killedOwner])).rows.map((r) => r.id as string);
      await until('half of the certificates', () => issued.length >= EXPECTED_CLIENTS.length / 2);
      await r3.stop();
      r3.launch();
      await r3.ready();
    };

    const started = Date.now();
    try {
      await Promise.all([certbotRuns(), legoRuns(), ...Array.from({ length: ACME_CLIENT_WORKERS }, (_, w) => acmeClientRuns(w + 1)), chaos()]);
      const workloadMs = Date.now() - started;

      // The killed replica comes back: it reads the serving certificate from the database (no sign),
      // and its start-up sweep leaves the live replicas' jobs alone.
      r2.launch();
      await r2.ready();
      await lb.waitUp(3);
      expect(await servingSigned()).toBe(1);
      expect(new Set(await Promise.all(replicas.map((r) => r.servedFingerprint()))).size).toBe(1);

      // Nothing left behind: no job still queued or running, no order still processing.
      const deadline = Date.now() + 45_000;
      let active = -1;
      while (Date.now() < deadline) {
        active = Number((await db.query("SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running')")).rows[0].n);
        if (active === 0) break;
        await sleep(500);
      }
      expect(active).toBe(0);
      // The jobs the killed replica held were taken over (their lease ran out) and ended.
      expect(killedOwner).toBeDefined();
      const takenOver = (await db.query('SELECT state, attempts FROM jobs WHERE id = ANY($1)', [leftRunning])).rows;
      for (const j of takenOver) expect(['done', 'failed']).toContain(j.state);
      const orders = Object.fromEntries((await db.query('SELECT status, count(*)::int AS n FROM orders GROUP BY status')).rows.map((r) => [r.status, r.n]));
      expect(orders.processing ?? 0).toBe(0);

      // Every run issued, every chain verifies to the simulator root, no key signed twice.
      expect(issued.map((i) => i.client).sort()).toEqual(EXPECTED_CLIENTS);
      const serials = issued.map((i) => opensslVerify(sim.rootPemPath, i.chainPem, { sans: [i.name] }).serial.replace(/^0+/, '').toLowerCase());
      const onSimulator = await sim.issued();
      const keys = onSimulator.map((c) => c.spkiSha256);
      expect(keys.length - new Set(keys).size).toBe(0);
      const simSerials = new Set(onSimulator.map((c) => c.serialNo.replace(/:/g, '').replace(/^0+/, '').toLowerCase()));
      for (const s of serials) expect(simSerials.has(s)).toBe(true);

      // Requests really landed on all three, and no replica refused a nonce another one issued.
      for (const r of replicas) if (r.isRunning()) await r.scrape();
      const perReplica = replicas.map((r) => ({
        name: r.name,
        ...r.totals(),
        events: r.events.join(', '),
        warnings: [...r.warnings()].map(([msg, n]) => `${n}× ${msg}`).join('; ') || 'none',
      }));
      const stats = await lb.stats();
      console.log(
        [
          `replicas e2e: ${issued.length} certificates in ${(workloadMs / 1000).toFixed(1)} s with a SIGKILL and a restart; orders by status ${JSON.stringify(orders)}`,
          ...perReplica.map((p) => `  ${p.name}: ${p.requests} ACME requests, ${p.badNonce} badNonce, ${p.serverInternal} serverInternal (${p.events}); logged at warn or above: ${p.warnings}`),
          ...stats.map((s) => `  haproxy ${s.name}: ${s.status}, ${s.sessions} connections, ${s.connectErrors} connect errors, ${s.retries} retries, ${s.redispatches} redispatched`),
          `  jobs the killed replica held, taken over by another: ${takenOver.length} (${takenOver.map((j) => `${j.state} after ${j.attempts} runs`).join(', ') || 'none was running at the kill'})`,
          `  requests acme-client re-sent after a reset (each may draw one badNonce): ${acmeClientResets(started).split('\n').filter(Boolean).length}`,
          `  client runs repeated after a connection reset: ${retries.length}${retries.length ? `\n    ${retries.join('\n    ')}` : ''}`,
          `  simulator: ${onSimulator.length} certificates signed (${onSimulator.length - issued.length} beyond the clients': the serving certificate and any order a reset client left behind), ${keys.length - new Set(keys).size} keys signed twice`,
        ].join('\n'),
      );
      for (const p of perReplica) expect(p.requests, `${p.name} answered no ACME request`).toBeGreaterThan(0);
      for (const s of stats) expect(s.sessions, `HAProxy sent no connection to ${s.name}`).toBeGreaterThan(0);
      expect(perReplica.reduce((n, p) => n + p.serverInternal, 0)).toBe(0);
      // A nonce one replica issued is never refused by another: the only badNonce answers are to
      // acme-client re-sending, after a reset, a request whose nonce the server had already spent
      // (one each at most), and acme-client recovers from those with a fresh nonce.
      const resent = acmeClientResets(started).split('\n').filter(Boolean).length;
      expect(perReplica.reduce((n, p) => n + p.badNonce, 0)).toBeLessThanOrEqual(resent);
      // No key was signed twice, so a certificate the audit "found" would be a false alarm (the audit
      // on one replica racing another replica's issuance); a claim failing or a lease lost would be a
      // replica stepping on another's jobs, or on its own database while it shuts down.
      const mustNotLog = /^(PCA audit: recorded|job claim failed|job lease lost)/;
      for (const r of replicas) expect([...r.warnings().keys()].filter((m) => mustNotLog.test(m)), r.name).toEqual([]);
    } finally {
      acme.setLogger(() => undefined);
      clearInterval(scraper);
      await db.end();
    }
  });
});
