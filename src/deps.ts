import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { splitListenAddress } from './platform/listen.js';
import { splitCertificatePems } from './acme/pem.js';
import { ValidityPolicy } from './acme/validity.js';
import { KeyCache } from './auth/key-cache.js';
import { NonceService } from './auth/nonces.js';
import { RequestVerifier } from './auth/verifier.js';
import type { GatewayConfig } from './config/schema.js';
import { EabVerifier } from './auth/eab.js';
import { EabKeySealer } from './auth/eab-crypto.js';
import { buildApp } from './http/app.js';
import { DEFAULT_DIRECTORY, Linker } from './http/links.js';
import { eabKekPath } from './services/eab-keys.js';
import { IssuanceJob } from './jobs/issue.js';
import { JobEvents } from './jobs/events.js';
import { PcaAudit } from './jobs/pca-audit.js';
import { PcaCertificateSearch } from './jobs/pca-search.js';
import { JobRunner } from './jobs/runner.js';
import { ValidationJob } from './jobs/validate.js';
import { NcpPcaClient } from './pca/ncp-client.js';
import { ResilientPcaClient } from './pca/resilient.js';
import { startPcaSimulator, type RunningSimulator } from './pca/simulator/index.js';
import type { PcaClient } from './pca/types.js';
import { ensureX509Crypto } from './pca/x509-setup.js';
import { meteredPcaClient } from './pca/metered.js';
import { Metrics } from './platform/metrics.js';
import { Gauge } from 'prom-client';
import { systemClock, type Clock } from './platform/clock.js';
import { createDnsResolver } from './platform/dns.js';
import { createLogger, type Logger } from './platform/logger.js';
import { cryptoRandom, type Random } from './platform/random.js';
import { AccountService } from './services/accounts.js';
import type { ServiceContext } from './services/context.js';
import { KeyChangeService } from './services/key-change.js';
import { AuthorizationService, CertificateService, ChallengeService, OrderService } from './services/orders.js';
import { RenewalInfoService } from './services/renewal-info.js';
import { RevocationService } from './services/revocation.js';
import { openSqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { createDns01Validator, createHttp01Validator, createTlsAlpn01Validator } from './validation/index.js';
import type { ChallengeType, ChallengeValidator } from './validation/types.js';

// The one wiring site: every component is built here and passed in. Tests build the same graph
// with fakes through the overrides.

export interface GatewayOverrides {
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  store?: Store;
  /** A PCA client to use instead of the configured one (tests: a PCA that fails on cue). */
  pca?: PcaClient;
  trustAnchorPems?: string[];
  validators?: ChallengeValidator[];
  /** Job runner poll interval; tests shorten it. */
  jobPollMs?: number;
  /** Node process metrics in /metrics (off in tests that build several gateways). */
  defaultMetrics?: boolean;
}

export interface Gateway {
  config: GatewayConfig;
  app: ReturnType<typeof buildApp>;
  linker: Linker;
  store: Store;
  jobs: JobRunner;
  pca: PcaClient;
  /** Compares the PCA's list with the database; runs every pca.auditIntervalMs. */
  audit: PcaAudit;
  simulator: RunningSimulator | null;
  /** PEM of the root(s) that issued chains verify to; what clients must trust. */
  trustAnchorPems: () => string[];
  logger: Logger;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function buildGateway(config: GatewayConfig, o: GatewayOverrides = {}): Promise<Gateway> {
  ensureX509Crypto();
  const clock = o.clock ?? systemClock;
  const random = o.random ?? cryptoRandom;
  const logger = o.logger ?? createLogger({ level: config.logging.level });
  const linker = new Linker(config.server.externalUrl);

  // ---- the Private CA ----
  let simulator: RunningSimulator | null = null;
  let rawPca: PcaClient;
  let closePca = async () => {};
  if (o.pca) {
    rawPca = o.pca;
  } else if (config.pca.kind === 'simulator') {
    // The embedded default: a real NCP-compatible endpoint on loopback, reached through the same
    // client code (signature v2 and all) as the real cloud API. Its keys are per process.
    const { host, port } = splitListenAddress(config.simulator.listen);
    const accessKey = `sim-${randomBytes(8).toString('hex')}`;
    const secretKey = randomBytes(24).toString('base64url');
    simulator = await startPcaSimulator({
      host,
      port,
      dataDir: config.simulator.dataDir,
      accessKey,
      secretKey,
      tiers: config.simulator.tiers,
      defaultPeriodDays: config.pca.period,
      logger: logger.child({ component: 'pca-simulator' }),
      ...(config.pca.caTag ? { caTag: config.pca.caTag } : {}),
    });
    const client = new NcpPcaClient({ endpoint: simulator.url, caTag: simulator.caTag, accessKey, secretKey, timeoutMs: config.pca.timeoutMs, clock, logger });
    rawPca = client;
    closePca = async () => {
      client.close();
      await simulator?.close();
    };
  } else {
    const client = new NcpPcaClient({
      endpoint: config.pca.endpoint!,
      caTag: config.pca.caTag!,
      accessKey: config.pca.accessKey!,
      secretKey: config.pca.secretKey!,
      timeoutMs: config.pca.timeoutMs,
      clock,
      logger,
      ...(config.pca.caFile ? { ca: readFileSync(config.pca.caFile, 'utf8') } : {}),
    });
    rawPca = client;
    closePca = async () => client.close();
  }
  const metrics = new Metrics({ defaultMetrics: o.defaultMetrics ?? true });
  const pca = new ResilientPcaClient(meteredPcaClient(rawPca, metrics), {
    clock,
    logger,
    maxConcurrent: config.pca.maxConcurrentCalls,
    breakerThreshold: config.pca.breakerThreshold,
    breakerCooldownMs: config.pca.breakerCooldownMs,
    retrySign: false, // a sign whose answer was lost is reconciled by the issuance job, never blindly retried
  });

  // ---- trust anchors for "never serve a wrong certificate" ----
  let anchors: X509Certificate[] = [];
  const anchorPems = (): string[] => anchors.map((a) => a.toString());
  if (o.trustAnchorPems) anchors = o.trustAnchorPems.map((p) => new X509Certificate(p));
  else if (config.pca.trustAnchorFile) anchors = splitCertificatePems(readFileSync(config.pca.trustAnchorFile, 'utf8')).map((p) => new X509Certificate(p));
  else if (simulator) anchors = [new X509Certificate(simulator.rootPem)];
  const fetchAnchors = async (): Promise<void> => {
    try {
      anchors = (await pca.chain()).map((p) => new X509Certificate(p)).filter((c) => c.checkIssued(c));
      if (anchors.length === 0) logger.error('the PCA chain has no self-signed root; set pca.trustAnchorFile');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not fetch the PCA chain for the trust anchor; issuance waits until it can');
    }
  };
  let anchorTimer: NodeJS.Timeout | null = null;
  if (anchors.length === 0 && !o.trustAnchorPems && !config.pca.trustAnchorFile && !simulator) {
    await fetchAnchors();
    // Until the chain is fetched, issuance jobs wait (RetryLater) instead of failing orders.
    anchorTimer = setInterval(() => {
      if (anchors.length === 0) void fetchAnchors();
      else if (anchorTimer) clearInterval(anchorTimer);
    }, 30_000);
    anchorTimer.unref();
  }

  // ---- storage, nonces, auth ----
  const store = o.store ?? openSqliteStore({ path: config.storage.sqlite });
  const nonces = await NonceService.create(store, clock, random, config.acme.nonceLifetimeSeconds * 1000);
  const verifier = new RequestVerifier(store, nonces, linker, new KeyCache());

  // ---- validation authority ----
  const resolver = createDnsResolver({ servers: config.validation.dnsResolvers });
  const validators = new Map<ChallengeType, ChallengeValidator>();
  for (const v of o.validators ?? [
    createHttp01Validator({ resolver, port: config.validation.httpPort, timeoutMs: config.validation.timeoutMs, logger }),
    createDns01Validator({ resolver, logger }),
    createTlsAlpn01Validator({ resolver, port: config.validation.tlsAlpnPort, timeoutMs: config.validation.timeoutMs, logger }),
  ]) {
    validators.set(v.type, v);
  }

  // ---- services and jobs ----
  let jobs: JobRunner | null = null;
  const jobEvents = new JobEvents();
  const ctx: ServiceContext = { store, clock, random, logger, config, kickJobs: () => jobs?.kick(), jobEvents };
  const validity = new ValidityPolicy({ defaultPeriodDays: config.pca.period, profiles: config.acme.profiles, defaultProfile: config.acme.defaultProfile });
  const search = new PcaCertificateSearch(pca);
  const audit = new PcaAudit({ store, search, clock, random, logger: logger.child({ component: 'pca-audit' }) });
  jobs = new JobRunner({
    store,
    clock,
    logger: logger.child({ component: 'jobs' }),
    owner: `gw-${randomBytes(6).toString('hex')}`,
    concurrency: config.validation.concurrency,
    pollMs: o.jobPollMs ?? 500,
    events: jobEvents,
    handlers: {
      validate: new ValidationJob(store, validators, clock, logger.child({ component: 'validation' })),
      issue: new IssuanceJob({ store, pca, search, validity, trustAnchors: () => anchors, clock, random, logger: logger.child({ component: 'issuance' }) }),
    },
  });

  new Gauge({
    name: 'acme_jobs_active',
    help: 'Jobs in flight in this process',
    registers: [metrics.registry],
    collect() {
      this.set(jobs?.inFlight ?? 0);
    },
  });
  const app = buildApp({
    metrics,
    config,
    linker,
    nonces,
    verifier,
    accounts: new AccountService(ctx, new EabVerifier(store, EabKeySealer.fromFile(eabKekPath(config)), clock, logger, DEFAULT_DIRECTORY)),
    orders: new OrderService(ctx, validity),
    authorizations: new AuthorizationService(ctx),
    challenges: new ChallengeService(ctx),
    certificates: new CertificateService(ctx),
    revocation: new RevocationService(ctx, pca),
    keyChange: new KeyChangeService(ctx, linker),
    renewalInfo: new RenewalInfoService(ctx),
    logger,
    random,
    ready: async () => {
      await store.ping();
      if (pca.breakerState() === 'open') throw new Error('the Private CA is failing (circuit breaker open)');
    },
  });

  await recoverUnfinishedWork(store, clock, random, config, logger);
  jobs.start();
  // Housekeeping: redeemed nonces past their lifetime, and finished jobs after a week (kept that long
  // for post-mortems of an order's timeline).
  let auditRunning = false;
  const auditTimer =
    config.pca.auditIntervalMs > 0
      ? setInterval(() => {
          if (auditRunning) return;
          auditRunning = true;
          void audit.run().finally(() => (auditRunning = false));
        }, config.pca.auditIntervalMs)
      : null;
  auditTimer?.unref();
  const pruneTimer = setInterval(() => {
    void nonces.prune().catch(() => undefined);
    void store.jobs.pruneFinished(clock.nowMs() - 7 * 86_400_000).catch(() => undefined);
  }, 10 * 60_000);
  pruneTimer.unref();

  return {
    config,
    app,
    linker,
    store,
    jobs,
    pca,
    audit,
    simulator,
    trustAnchorPems: anchorPems,
    logger,
    metrics,
    async close() {
      clearInterval(pruneTimer);
      if (auditTimer) clearInterval(auditTimer);
      if (anchorTimer) clearInterval(anchorTimer);
      await jobs!.stop(10_000);
      await store.close();
      await closePca();
    },
  };
}

/**
 * Start-up sweep: whatever a crash left behind is resumed, never left stuck. Jobs that were running
 * are queued again (SQLite has a single writer process), and any order or challenge still
 * processing without a live job gets one.
 */
async function recoverUnfinishedWork(store: Store, clock: Clock, random: Random, config: GatewayConfig, logger: Logger): Promise<void> {
  const now = clock.nowMs();
  const requeued = await store.jobs.requeueRunning(now);
  const id = () => random.bytes(12).toString('base64url');
  let orders = 0;
  for (const orderId of await store.orders.listProcessingWithoutLiveJob()) {
    if (await store.jobs.ensure('issue', orderId, { id: id(), runAt: now, deadlineAt: now + config.pca.issuanceDeadlineMs }, now)) orders++;
  }
  let challenges = 0;
  for (const challengeId of await store.challenges.listProcessingWithoutLiveJob()) {
    if (await store.jobs.ensure('validate', challengeId, { id: id(), runAt: now, deadlineAt: now + 5 * 60_000 }, now)) challenges++;
  }
  if (requeued || orders || challenges) logger.info({ requeued, orders, challenges }, 'resumed unfinished work from before the restart');
}
