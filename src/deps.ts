import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { splitListenAddress } from './platform/listen.js';
import { splitCertificatePems } from './acme/pem.js';
import { ValidityPolicy } from './acme/validity.js';
import { AddressPolicy } from './acme/address-policy.js';
import { KeyCache } from './auth/key-cache.js';
import { NonceService } from './auth/nonces.js';
import { RequestVerifier } from './auth/verifier.js';
import type { GatewayConfig } from './config/schema.js';
import { EabVerifier } from './auth/eab.js';
import { EabKeySealer } from './platform/key-sealer.js';
import { buildApp } from './http/app.js';
import { Linker } from './acme/links.js';
import { dataDirOf, eabKekPath } from './config/paths.js';
import { EabKeyService } from './services/eab-keys.js';
import { IssuanceJob } from './jobs/issue.js';
import { DEFAULT_VALIDATION_DEADLINE_MS, JobQueue } from './jobs/queue.js';
import { StartupRecovery } from './jobs/recovery.js';
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
import { systemClock, type Clock } from './platform/clock.js';
import { createDnsResolver } from './platform/dns.js';
import { createLogger, type Logger } from './platform/logger.js';
import { cryptoRandom, randomId, type Random } from './platform/random.js';
import { PeriodicTasks } from './platform/periodic.js';
import { ServingCertificateManager } from './pca/serving-certificate.js';
import { TrustAnchors } from './pca/trust-anchors.js';
import { AccountService } from './services/accounts.js';
import type { ServiceContext, ServiceSettings } from './services/context.js';
import { KeyChangeService } from './services/key-change.js';
import { AuthorizationService } from './services/authorizations.js';
import { CertificateService } from './services/certificates.js';
import { ChallengeService } from './services/challenges.js';
import { OrderService } from './services/orders.js';
import { RenewalInfoService } from './services/renewal-info.js';
import { RevocationService } from './services/revocation.js';
import { openPostgresStore, type PostgresStoreOptions } from './store/postgres/index.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { Store } from './store/types.js';
import { createCaaChecker, createDns01Validator, createHttp01Validator, createTlsAlpn01Validator } from './validation/index.js';
import { CaaRecheck, type CaaWiring } from './jobs/caa-recheck.js';
import type { ChallengeType, ChallengeValidator } from './validation/types.js';
import { buildAdminListener, buildOpsParts, type AdminListenerParts } from './deps-ops.js';
import { RequestScope } from './platform/request-scope.js';
import type { PostJson } from './platform/webhook-post.js';
import type { AdminToken } from './platform/admin-token.js';
import { buildCommandOps, type CommandOps } from './deps-ops.js';

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
  /** The request context the logger reads (tests that check log lines build the logger with it). */
  requestScope?: RequestScope;
  /** How webhooks are POSTed (tests: a fake). */
  webhookPost?: PostJson;
  adminToken?: AdminToken;
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
  /** tls.mode "pca": the listener's certificate from the PCA (serve initialises it); null otherwise. */
  servingCertificate: ServingCertificateManager | null;
  logger: Logger;
  metrics: Metrics;
  /** The admin listener's app (/metrics, /livez, /readyz, the console, /api) and its token. */
  admin: AdminListenerParts;
  close(): Promise<void>;
}

export async function buildGateway(config: GatewayConfig, o: GatewayOverrides = {}): Promise<Gateway> {
  ensureX509Crypto();
  const clock = o.clock ?? systemClock;
  const random = o.random ?? cryptoRandom;
  const scope = o.requestScope ?? new RequestScope();
  const pretty = config.logging.format === 'pretty' || (config.logging.format === 'auto' && process.stdout.isTTY === true);
  const logger = o.logger ?? createLogger({ level: config.logging.level, secrets: [config.pca.secretKey, config.pca.accessKey], scope, pretty });
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
    const accessKey = `sim-${random.bytes(8).toString('hex')}`;
    const secretKey = random.bytes(24).toString('base64url');
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
  const fixedAnchors = o.trustAnchorPems
    ? o.trustAnchorPems
    : config.pca.trustAnchorFile
      ? splitCertificatePems(readFileSync(config.pca.trustAnchorFile, 'utf8'))
      : simulator
        ? [simulator.rootPem]
        : null;
  const trustAnchors = new TrustAnchors({ pca, fixed: fixedAnchors?.map((p) => new X509Certificate(p)) ?? null, logger });
  metrics.observeCaNotAfter(() => trustAnchors.current().map((a) => Date.parse(a.validTo)));

  // ---- storage, nonces, auth ----
  const store = o.store ?? (await openStore(config, logger));
  const nonces = await NonceService.create(store, clock, random, config.acme.nonceLifetimeSeconds * 1000);
  const eab = new EabVerifier(store.eabKeys, EabKeySealer.fromFile(eabKekPath(config)), clock, logger);
  const verifier = new RequestVerifier(store.accounts, nonces, linker, new KeyCache(), eab);

  // ---- validation authority ----
  // Where the validator may connect (acme/address-policy.ts); trial mode also opens 127.0.0.1 and ::1
  // so that the quick start's `-d localhost` validates.
  const trial = config.pca.kind === 'simulator';
  const addressPolicy = new AddressPolicy({ allowedCidrs: config.validation.allowedCidrs, deniedCidrs: config.validation.deniedCidrs, trialLoopback: trial });
  logger.info({ addressPolicy: addressPolicy.describe() }, trial ? 'trial mode (pca.kind simulator): validation may connect to 127.0.0.1 and ::1; other loopback, link-local and metadata addresses stay denied' : 'validation address policy');
  const resolver = createDnsResolver({ servers: config.validation.dnsResolvers, serversByZone: config.validation.dnsResolversByZone });
  const validators = new Map<ChallengeType, ChallengeValidator>();
  for (const v of o.validators ?? [
    createHttp01Validator({ resolver, addressPolicy, port: config.validation.httpPort, timeoutMs: config.validation.timeoutMs, logger }),
    createDns01Validator({ resolver, logger }),
    createTlsAlpn01Validator({ resolver, addressPolicy, port: config.validation.tlsAlpnPort, timeoutMs: config.validation.timeoutMs, logger }),
  ]) {
    validators.set(v.type, v);
  }
  // CAA (RFC 8659), opt-in; one policy for every directory until directories get their own.
  const caa: CaaWiring | undefined = config.caa
    ? { checker: createCaaChecker({ resolver, timeoutMs: config.validation.timeoutMs, logger }), policyFor: () => config.caa, accountUrl: (a) => linker.url('account', a.directory, a.id) }
    : undefined;

  // ---- services and jobs ----
  const queue = new JobQueue({ random, deadlines: { validateMs: DEFAULT_VALIDATION_DEADLINE_MS, issueMs: config.pca.issuanceDeadlineMs } });
  const ops = buildOpsParts({ config, store, clock, random, logger, metrics, queue, scope, ...(o.webhookPost ? { post: o.webhookPost } : {}) });
  const ctx: ServiceContext = { store, clock, random, logger, metrics, settings: serviceSettings(config), jobs: queue, events: ops.events };
  const validity = new ValidityPolicy({ defaultPeriodDays: config.pca.period, profiles: config.acme.profiles, defaultProfile: config.acme.defaultProfile });
  const search = new PcaCertificateSearch(pca);
  const audit = new PcaAudit({ store, search, clock, random, logger: logger.child({ component: 'pca-audit' }) });
  const jobs = new JobRunner({
    store,
    clock,
    logger: logger.child({ component: 'jobs' }),
    owner: `gw-${randomId(random)}`,
    concurrency: { validate: config.validation.concurrency, issue: config.pca.issuanceConcurrency, notify: 4 },
    pollMs: o.jobPollMs ?? 500,
    queue,
    metrics,
    handlers: {
      validate: new ValidationJob(store, validators, clock, logger.child({ component: 'validation' }), metrics, caa, ops.events),
      issue: new IssuanceJob({ store, pca, search, validity, trustAnchors: () => trustAnchors.current(), clock, random, logger: logger.child({ component: 'issuance' }), metrics, events: ops.events, ...(caa ? { caaRecheck: new CaaRecheck({ store, caa, clock, logger }) } : {}) }),
      notify: ops.notify,
    },
  });
  metrics.observeJobsInFlight(() => jobs.inFlight);

  const app = buildApp({
    metrics,
    config,
    linker,
    nonces,
    verifier,
    accounts: new AccountService(ctx),
    orders: new OrderService(ctx, validity, addressPolicy),
    authorizations: new AuthorizationService(ctx),
    challenges: new ChallengeService(ctx),
    certificates: new CertificateService(ctx),
    revocation: new RevocationService(ctx, pca),
    keyChange: new KeyChangeService(ctx, linker),
    renewalInfo: new RenewalInfoService(ctx),
    logger,
    random,
    scope,
    events: ops.events,
  });
  const ready = async () => {
    await store.ping();
    if (pca.breakerState() === 'open') throw new Error('the Private CA is failing (circuit breaker open)');
  };
  const admin = buildAdminListener({ config, store, clock, random, logger, metrics, scope, ops, pca, trustAnchorPems: () => trustAnchors.pems(), ready, ...(o.adminToken ? { token: o.adminToken } : {}) });

  // Housekeeping: redeemed nonces past their lifetime, finished jobs after a week (kept that long for
  // post-mortems of an order's timeline), and the PCA audit.
  const housekeeping = new PeriodicTasks(
    [
      { name: 'prune nonces', everyMs: 10 * 60_000, run: () => nonces.prune() },
      { name: 'prune finished jobs', everyMs: 10 * 60_000, run: () => store.jobs.pruneFinished(clock.nowMs() - FINISHED_JOB_RETENTION_MS) },
      // Replicas sharing a database audit it once: whoever holds the lock runs, the others skip.
      { name: 'PCA audit', everyMs: config.pca.auditIntervalMs, run: () => store.tryExclusive('pca-audit', () => audit.run()) },
      ...ops.tasks,
    ],
    logger,
  );
  const servingCertificate = config.server.tls.mode === 'pca' ? servingCertificateFor(config, pca, clock, logger) : null;

  await trustAnchors.start();
  await new StartupRecovery({ store, clock, queue, logger }).run();
  jobs.start();
  housekeeping.start();

  return {
    config,
    app,
    linker,
    store,
    jobs,
    pca,
    audit,
    simulator,
    trustAnchorPems: () => trustAnchors.pems(),
    servingCertificate,
    logger,
    metrics,
    admin,
    async close() {
      housekeeping.stop();
      trustAnchors.stop();
      servingCertificate?.stop();
      await jobs.stop(10_000);
      await store.close();
      await closePca();
    },
  };
}

/** The configuration as the use cases see it (services/context.ts). */
function serviceSettings(config: GatewayConfig): ServiceSettings {
  const profiles = config.acme.profiles;
  return {
    termsOfServiceRequired: config.acme.termsOfService !== undefined,
    externalAccountRequired: config.acme.externalAccountRequired,
    orderLifetimeMs: config.acme.orderLifetimeSeconds * 1000,
    authorizationLifetimeMs: config.acme.authorizationLifetimeSeconds * 1000,
    finalizeWaitMs: config.server.finalizeWaitMs,
    profileKeyTypes: (profile) => (profile !== null && Object.hasOwn(profiles, profile) ? profiles[profile]!.keyTypes : undefined),
  };
}

/** Finished jobs are kept this long for post-mortems of an order's timeline, then pruned. */
const FINISHED_JOB_RETENTION_MS = 7 * 86_400_000;

/**
 * tls.mode "pca": the listener's own certificate comes from the PCA it fronts, for the external
 * URL's host, cached beside the database (pca/serving-certificate.ts).
 */
function servingCertificateFor(config: GatewayConfig, pca: PcaClient, clock: Clock, logger: Logger): ServingCertificateManager {
  return new ServingCertificateManager({
    pca,
    host: new URL(config.server.externalUrl).hostname.replace(/^\[|\]$/g, ''),
    periodDays: Math.min(config.pca.period, 90),
    cacheDir: dataDirOf(config),
    renewAtFraction: config.server.tls.renewAtFraction,
    clock,
    logger,
  });
}

/** What the admin commands (cli/) need, built from the same configuration as the gateway. */
export interface AdminParts extends CommandOps {
  store: Store;
  eabKeys: EabKeyService;
  clock: Clock;
  config: GatewayConfig;
  close(): Promise<void>;
}

export async function buildAdmin(config: GatewayConfig, o: { clock?: Clock; random?: Random; store?: Store; logger?: Logger } = {}): Promise<AdminParts> {
  const clock = o.clock ?? systemClock;
  // On stderr: an admin command's stdout is its output (--json for scripts).
  const logger = o.logger ?? createLogger({ level: config.logging.level, destination: process.stderr });
  const store = o.store ?? (await openStore(config, logger));
  const random = o.random ?? cryptoRandom;
  const eabKeys = new EabKeyService(store, EabKeySealer.fromFile(eabKekPath(config)), clock, random);
  return { store, eabKeys, clock, ...buildCommandOps({ config, store, clock, random, logger }), config, close: () => store.close() };
}

/**
 * The configured store: PostgreSQL when storage.postgres names a database (replicas share it), the
 * SQLite file otherwise. Opening either applies its migrations.
 */
export async function openStore(config: GatewayConfig, logger: Logger): Promise<Store> {
  if (!config.storage.postgres) return openSqliteStore({ path: config.storage.sqlite! });
  return openPostgresStore({ ...postgresStoreOptions(config), logger: logger.child({ component: 'postgres' }) });
}

/** The PostgreSQL store's settings from storage.*, the password read from its file if it has one. */
export function postgresStoreOptions(config: GatewayConfig): PostgresStoreOptions {
  const s = config.storage;
  if (!s.postgres) throw new Error('storage.postgres is not set');
  // A password file ends with a newline more often than not; the password does not.
  const password = s.postgresPassword ?? (s.postgresPasswordFile ? readFileSync(s.postgresPasswordFile, 'utf8').replace(/\r?\n$/, '') : undefined);
  return {
    url: s.postgres,
    ...(password !== undefined ? { password } : {}),
    poolSize: s.poolSize,
    statementTimeoutMs: s.statementTimeoutMs,
    connectTimeoutMs: s.connectTimeoutMs,
  };
}
