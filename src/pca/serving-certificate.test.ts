import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NcpPcaClient } from './ncp-client.js';
import { startPcaSimulator, type RunningSimulator } from './simulator/index.js';
import type { PcaClient } from './types.js';
import { ManualClock, systemClock } from '../platform/clock.js';
import { silentLogger } from '../platform/logger.js';
import { listen } from '../http/listener.js';
import { ServingCertificateManager, type ServingCredentials, type SharedServingCertificate } from './serving-certificate.js';
import { EabKeySealer } from '../platform/key-sealer.js';

/** The leaf certificate a TLS client is shown on 127.0.0.1:port (no verification: only its identity matters). */
function servedLeaf(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'acme.internal', rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (peer) resolve(peer);
      else reject(new Error('no peer certificate'));
    });
    socket.once('error', reject);
  });
}

// tls.mode "pca": the listener's certificate comes from the PCA, is kept beside the database, reused
// while fresh, renewed when due, and a PCA outage at start falls back to a cached one still valid.

describe('ServingCertificateManager', () => {
  let dir: string;
  let sim: RunningSimulator;
  let pca: NcpPcaClient;
  let signCalls = 0;
  let failing = false;
  const counting: PcaClient = {
    sign: (csr, opts) => {
      signCalls++;
      return failing ? Promise.reject(new Error('PCA down')) : pca.sign(csr, opts);
    },
    chain: () => pca.chain(),
    revoke: (s) => pca.revoke(s),
    getCert: (s) => pca.getCert(s),
    listCerts: (p) => pca.listCerts(p),
    crl: () => pca.crl(),
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'serving-tls-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey: 'ak', secretKey: 'sk' });
    pca = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: 'ak', secretKey: 'sk', clock: systemClock });
  });
  afterAll(async () => {
    pca.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  const manager = (clock = new ManualClock(Date.now()), renewAtFraction = 2 / 3) =>
    new ServingCertificateManager({ pca: counting, host: 'acme.internal', periodDays: 30, cacheDir: join(dir, 'cache'), renewAtFraction, clock, logger: silentLogger() });

  it('gets a certificate for the external host, then reuses the cached one while fresh', async () => {
    const first = await manager().init();
    const leaf = new X509Certificate(first.certPem);
    expect(leaf.subjectAltName).toBe('DNS:acme.internal');
    expect(first.certPem.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
    expect(leaf.checkPrivateKey(createPrivateKey(first.keyPem))).toBe(true);
    expect((await stat(join(dir, 'cache', 'serving-key.pem'))).mode & 0o777).toBe(0o600);
    const calls = signCalls;
    const again = await manager().init();
    expect(again.certPem).toBe(first.certPem);
    expect(signCalls).toBe(calls);
  });

  it('renews at the configured fraction of the lifetime, and keeps a valid cached one when the PCA is down', async () => {
    const cached = await manager().init(); // the certificate the first test obtained
    const late = new ManualClock(Date.now() + 25 * 86_400_000); // past 2/3 of 30 days
    const before = signCalls;
    const renewed = await manager(late).init();
    expect(signCalls).toBe(before + 1);
    expect(new Date(new X509Certificate(renewed.certPem).validTo).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    // A new certificate and key, not the cached pair handed out again.
    expect(new X509Certificate(renewed.certPem).serialNumber).not.toBe(new X509Certificate(cached.certPem).serialNumber);
    expect(renewed.keyPem).not.toBe(cached.keyPem);
    expect(new X509Certificate(renewed.certPem).checkPrivateKey(createPrivateKey(renewed.keyPem))).toBe(true);
    // It replaced the cached one: the next start serves it, without asking the PCA.
    const restarted = await manager().init();
    expect(restarted.certPem).toBe(renewed.certPem);
    expect(restarted.keyPem).toBe(renewed.keyPem);
    expect(signCalls).toBe(before + 1);

    failing = true;
    try {
      const fallback = await manager(new ManualClock(Date.now() + 25 * 86_400_000)).init();
      expect(fallback.certPem).toBe(renewed.certPem); // renewal failed; the cached certificate still serves
      await expect(manager(new ManualClock(Date.now() + 40 * 86_400_000)).init()).rejects.toThrow(/PCA down/);
    } finally {
      failing = false;
    }
  });

  it('scheduleRenewal swaps in a new certificate when due, and the listener serves it', async () => {
    const m = manager(new ManualClock(Date.now()), 0.000001); // due at once
    const initial = await m.init();
    const listener = await listen(new Hono() as never, { host: '127.0.0.1', port: 0, tls: initial });
    try {
      expect((await servedLeaf(listener.port)).fingerprint256).toBe(new X509Certificate(initial.certPem).fingerprint256);
      const swapped = await new Promise<ServingCredentials>((resolve) =>
        m.scheduleRenewal((c) => {
          listener.setCredentials(c);
          resolve(c);
        }),
      );
      m.stop();
      const renewedLeaf = new X509Certificate(swapped.certPem);
      expect(renewedLeaf.subjectAltName).toBe('DNS:acme.internal');
      expect(renewedLeaf.fingerprint256).not.toBe(new X509Certificate(initial.certPem).fingerprint256);
      // What a client connecting now sees is the renewed certificate.
      expect((await servedLeaf(listener.port)).fingerprint256).toBe(renewedLeaf.fingerprint256);
    } finally {
      m.stop();
      await listener.close();
    }
  });
});

// Replicas share one certificate through the database: here an in-memory stand-in for the Store's
// settings and tryExclusive (the stores themselves run in test/routes/serving-certificate.test.ts).
class MemoryShared implements SharedServingCertificate {
  value: string | null = null;
  readonly held = new Set<string>();
  turnedAway = 0;
  read = async () => this.value;
  write = async (expected: string | null, next: string) => {
    if (this.value !== expected) return false;
    this.value = next;
    return true;
  };
  exclusive = async <T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> => {
    if (this.held.has('lock')) {
      this.turnedAway++;
      return { ran: false };
    }
    this.held.add('lock');
    try {
      return { ran: true, value: await fn() };
    } finally {
      this.held.delete('lock');
    }
  };
}

describe('ServingCertificateManager shared by replicas', () => {
  let dir: string;
  let sim: RunningSimulator;
  let pca: NcpPcaClient;
  let signCalls = 0;
  const counting: PcaClient = {
    sign: (csr, opts) => {
      signCalls++;
      return pca.sign(csr, opts);
    },
    chain: () => pca.chain(),
    revoke: (s) => pca.revoke(s),
    getCert: (s) => pca.getCert(s),
    listCerts: (p) => pca.listCerts(p),
    crl: () => pca.crl(),
  };
  const sealer = new EabKeySealer(randomBytes(32));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'serving-shared-'));
    sim = await startPcaSimulator({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'pca'), accessKey: 'ak', secretKey: 'sk' });
    pca = new NcpPcaClient({ endpoint: sim.url, caTag: sim.caTag, accessKey: 'ak', secretKey: 'sk', clock: systemClock });
  });
  afterAll(async () => {
    pca.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  let replica = 0;
  const manager = (shared: SharedServingCertificate, o: { clock?: ManualClock; cacheDir?: string; sealer?: EabKeySealer; refreshMs?: number } = {}) =>
    new ServingCertificateManager({
      pca: counting,
      host: 'acme.internal',
      periodDays: 30,
      cacheDir: o.cacheDir ?? join(dir, `replica-${++replica}`),
      renewAtFraction: 2 / 3,
      clock: o.clock ?? new ManualClock(Date.now()),
      logger: silentLogger(),
      shared: { store: shared, sealer: o.sealer ?? sealer },
      waitPollMs: 20,
      ...(o.refreshMs ? { refreshMs: o.refreshMs } : {}),
    });

  it('three replicas starting at once: one sign call, one certificate for all, its key sealed in the record', async () => {
    const shared = new MemoryShared();
    const before = signCalls;
    const got = await Promise.all([manager(shared).init(), manager(shared).init(), manager(shared).init()]);
    expect(signCalls).toBe(before + 1);
    expect(shared.turnedAway).toBeGreaterThan(0); // the others really waited for the holder
    expect(new Set(got.map((c) => c.certPem)).size).toBe(1);
    expect(new Set(got.map((c) => c.keyPem)).size).toBe(1);
    expect(shared.value).not.toContain('PRIVATE KEY');
    expect(shared.value).not.toContain(got[0]!.keyPem.split('\n')[1]);
    // A fourth, later, reads it and asks the PCA nothing.
    expect((await manager(shared).init()).certPem).toBe(got[0]!.certPem);
    expect(signCalls).toBe(before + 1);
  });

  it('a record sealed under another key-encryption key is not served: a new certificate replaces it', async () => {
    const shared = new MemoryShared();
    const foreign = await manager(shared, { sealer: new EabKeySealer(randomBytes(32)) }).init();
    const before = signCalls;
    const ours = await manager(shared).init();
    expect(signCalls).toBe(before + 1);
    expect(ours.certPem).not.toBe(foreign.certPem);
    expect((await manager(shared).init()).certPem).toBe(ours.certPem);
  });

  it('a fresh file copy from before sharing is published rather than signed again', async () => {
    const cacheDir = join(dir, 'upgraded');
    const alone = await new ServingCertificateManager({ pca: counting, host: 'acme.internal', periodDays: 30, cacheDir, renewAtFraction: 2 / 3, clock: systemClock, logger: silentLogger() }).init();
    const shared = new MemoryShared();
    const before = signCalls;
    expect((await manager(shared, { cacheDir }).init()).certPem).toBe(alone.certPem);
    expect((await manager(shared).init()).certPem).toBe(alone.certPem);
    expect(signCalls).toBe(before);
  });

  it('one replica renews when due; another picks the renewed certificate up without a restart', async () => {
    const shared = new MemoryShared();
    const lateClock = new ManualClock(Date.now());
    const renewer = manager(shared, { clock: lateClock });
    const other = manager(shared, { refreshMs: 30 });
    const first = await renewer.init();
    expect((await other.init()).certPem).toBe(first.certPem);
    const seen = new Promise<ServingCredentials>((resolve) => other.scheduleRenewal(resolve));
    try {
      lateClock.advance(25 * 86_400_000); // past 2/3 of 30 days for the renewer only
      const before = signCalls;
      const renewed = await renewer.refresh();
      expect(renewed).not.toBeNull();
      expect(signCalls).toBe(before + 1);
      expect((await seen).certPem).toBe(renewed!.certPem); // swapped in by the other replica's timer
      lateClock.set(Date.now()); // the renewed certificate is fresh again on the renewer's clock
      expect(await renewer.refresh()).toBeNull(); // nothing new
      expect(signCalls).toBe(before + 1);
    } finally {
      other.stop();
      renewer.stop();
    }
  });
});
