import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { splitListenAddress } from './platform/listen.js';
import { splitCertificatePems } from './acme/pem.js';
import { ValidityPolicy } from './acme/validity.js';
import { AddressPolicy } from './acme/address-policy.js';
import { KeyCache } from './auth/key-cache.js';
import { NonceService } from './auth/nonces.js';
import { RequestVerifier } from './auth/verifier.js';
import type { GatewayConfig, PcaTargetConfig } from './config/schema.js';
import { EabVerifier } from './auth/eab.js';
import { EabKeySealer } from './platform/key-sealer.js';
import { buildApp } from './http/app.js';
import type { DirectoryRoutes } from './http/directory-routes.js';
import { DEFAULT_DIRECTORY, Linker } from './acme/links.js';
import { IssuancePolicy, type IssuanceRules } from './acme/issuance-policy.js';
import type { RateLimitSettings } from './acme/rate-limits.js';
import { eabKekPath } from './config/paths.js';
import { EabKeyService } from './services/eab-keys.js';
import { IssuanceJob } from './jobs/issue.js';
import { IssuanceByDirectory, validityCapOf } from './jobs/issue-by-directory.js';
import { DEFAULT_VALIDATION_DEADLINE_MS, JobQueue } from './jobs/queue.js';
import { StartupRecovery } from './jobs/recovery.js';
import { PcaAudit } from './jobs/pca-audit.js';
import { LEARNED_RETENTION_MS, PcaCertificateSearch } from './jobs/pca-search.js';
import { JobRunner } from './jobs/runner.js';
import { ValidationJob } from './jobs/validate.js';
import type { CaWatch } from './pca/ca-status.js';
import { CrlPublisher } from './pca/crl-publisher.js';
import { connectPca, type PcaEndpoint } from './pca/connect.js';
import type { ResilientPcaClient } from './pca/resilient.js';
import { type RunningSimulator, type SimulatedCa } from './pca/simulator/index.js';
import { startSimulatorMaybeThreaded } from './pca/simulator/thread.js';
import type { PcaClient } from './pca/types.js';
import { ensureX509Crypto } from './pca/x509-setup.js';
import { Metrics, type DirectoryHealth } from './platform/metrics.js';
import { systemClock, type Clock } from './platform/clock.js';
import { createDnsResolver } from './platform/dns.js';
import { createLogger, type Logger } from './platform/logger.js';
import { cryptoRandom, pooledCryptoRandom, randomId, type Random } from './platform/random.js';
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
import type { OpsEventSink } from './acme/ops-events.js';
import { buildAdminListener, buildOpsParts, type AdminListenerParts } from './deps-ops.js';
import { RequestScope } from './platform/request-scope.js';
import type { PostJson } from './platform/webhook-post.js';
import type { AdminToken } from './platform/admin-token.js';
import { buildCommandOps, type CommandOps } from './deps-ops.js';

// The one wiring site: every component is built here and passed in. Tests build the same graph
// with fakes through the overrides. Issue 9: a directory per configured name, each with its own PCA
// target (client, breaker, trust anchors), validity and issuance policy, its own use cases, issuance
// job and audit; the store, nonces, request verifier, validators and job runner are shared.

export interface GatewayOverrides {
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  store?: Store;
  /** A PCA client for the default directory instead of the configured one (tests: a PCA that fails on cue). */
  pca?: PcaClient;
  /** The default directory's trust anchors. */
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

/** One served directory, as the entry points (banner, tests) see it. */
export interface GatewayDirectory {
  name: string;
  /** Its directory URL: <externalUrl>/directory, or <externalUrl>/<name>/directory. */
  url: string;
  pca: ResilientPcaClient;
  /** PEM of the root(s) this directory's chains verify to. */
  trustAnchorPems: () => string[];
  /** The file of the root to trust for this directory's certificates, when the gateway has one. */
  rootPemPath: string | null;
  /** Where it issues from, for people: "embedded NCP PCA simulator (caTag payments-ca)". */
  pcaDescription: string;
  audit: PcaAudit;
  /** Its CA as last read (issue 10). */
  ca: CaWatch;
}

export interface Gateway {
  config: GatewayConfig;
  app: ReturnType<typeof buildApp>;
  linker: Linker;
  store: Store;
  jobs: JobRunner;
  /** The default directory's PCA. */
  pca: PcaClient;
  /** The default directory's PCA audit; every directory's runs every pca.auditIntervalMs of its own. */
  audit: PcaAudit;
  /** Every directory, the default one first. */
  directories: GatewayDirectory[];
  simulator: RunningSimulator | null;
  /** PEM of the root(s) that the default directory's chains verify to; what clients must trust. */
  trustAnchorPems: () => string[];
  /** tls.mode "pca": the listener's certificate from the PCA (serve initialises it); null otherwise. */
  servingCertificate: ServingCertificateManager | null;
  logger: Logger;
  metrics: Metrics;
  /** The admin listener's app (/metrics, /livez, /readyz, the console, /api) and its token. */
  admin: AdminListenerParts;
  /**
   * Shutdown begins: requests that wait for a validation or an issuance answer now with the state
   * they have (processing, Retry-After), so the listener can close without cutting them off.
   */
  stopWaiting(): void;
  close(): Promise<void>;
}

/** A directory as configured: the default one from the top level, the others from `directories`. */
interface DirectorySpec {
  name: string;
  pca: PcaTargetConfig;
  policy: IssuanceRules & { preAuthorization?: boolean | undefined };
  rateLimits: RateLimitSettings;
  acme: { externalAccountRequired: boolean; termsOfService?: string | undefined; website?: string | undefined };
}

function directorySpecs(config: GatewayConfig): DirectorySpec[] {
  const top = { externalAccountRequired: config.acme.externalAccountRequired, termsOfService: config.acme.termsOfService, website: config.acme.website };
  return [
    { name: DEFAULT_DIRECTORY, pca: config.pca, policy: config.policy, rateLimits: config.rateLimits, acme: top },
    ...Object.entries(config.directories).map(([name, d]) => ({
      name,
      pca: d.pca,
      policy: d.policy,
      rateLimits: d.rateLimits,
      acme: {
        externalAccountRequired: d.acme.externalAccountRequired ?? top.externalAccountRequired,
        termsOfService: d.acme.termsOfService ?? top.termsOfService,
        website: d.acme.website ?? top.website,
      },
    })),
  ];
}

export async function buildGateway(config: GatewayConfig, o: GatewayOverrides = {}): Promise<Gateway> {
  ensureX509Crypto();
  const clock = o.clock ?? systemClock;
  const random = o.random ?? pooledCryptoRandom();
  const scope = o.requestScope ?? new RequestScope();
  const pretty = config.logging.format === 'pretty' || (config.logging.format === 'auto' && process.stdout.isTTY === true);
  const logger = o.logger ?? createLogger({ level: config.logging.level, secrets: [config.pca.secretKey, config.pca.accessKey], scope, pretty });
  const linker = new Linker(config.server.externalUrl);
  const metrics = new Metrics({ defaultMetrics: o.defaultMetrics ?? true });
  const specs = directorySpecs(config);

  // ---- the embedded PCA simulator: one port, one CA per simulator directory's caTag ----
  const simulated = specs.filter((d) => d.pca.kind === 'simulator' && !(d.name === DEFAULT_DIRECTORY && o.pca));
  const sim = simulated.length ? await startSimulator(config, simulated, random, logger) : null;

  // ---- storage, nonces, auth (shared: the verifier scopes kids and EAB keys to the directory) ----
  const store = o.store ?? (await openStore(config, logger, { serving: true }));
  const nonces = await NonceService.create(store, clock, random, config.acme.nonceLifetimeSeconds * 1000);
  // One key-encryption key seals the EAB keys and the serving certificate's key; replicas share it.
  const sealer = EabKeySealer.fromFile(eabKekPath(config));
  const eab = new EabVerifier(store.eabKeys, sealer, clock, logger);
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

  // ---- the directories ----
  const queue = new JobQueue({ random, deadlines: { validateMs: DEFAULT_VALIDATION_DEADLINE_MS, issueMs: config.pca.issuanceDeadlineMs } });
  const ops = buildOpsParts({ config, store, clock, random, logger, metrics, queue, scope, ...(o.webhookPost ? { post: o.webhookPost } : {}) });
  const shared = { config, o, clock, random, logger, metrics, linker, store, queue, sim, addressPolicy, caa, events: ops.events };
  const built = specs.map((spec) => buildDirectory(spec, shared));
  const main = built[0]!;
  // The CA's end of life, for alerting: the soonest notAfter of every directory's trust anchors.
  metrics.observeCaNotAfter(() => built.flatMap((b) => b.trustAnchors.current().map((a) => Date.parse(a.validTo))));

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
      issue: new IssuanceByDirectory({ store, clock, logger: logger.child({ component: 'issuance' }), handlers: new Map(built.map((b) => [b.gateway.name, b.issuance])), fallback: main.issuance }),
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
    directories: built.map((b) => b.routes),
    logger,
    random,
    retryAfter: (work) => jobs.retryAfterSeconds(work === 'validation' ? 'validate' : 'issue'),
    scope,
    events: ops.events,
  });
  // What /readyz, /metrics and the console say of each directory's issuing side.
  const directoryHealth = (): DirectoryHealth[] => built.map((b) => ({ directory: b.gateway.name, breaker: b.gateway.pca.breakerState(), caNotReady: b.gateway.ca.notReady() }));
  metrics.observeDirectories(directoryHealth);
  const ready = async () => {
    await store.ping();
    const health = directoryHealth();
    // Every directory's PCA: a directory that cannot issue makes the gateway not ready (issue 9).
    const failing = health.filter((d) => d.breaker === 'open').map((d) => d.directory);
    if (failing.length) throw new Error(`the Private CA is failing (circuit breaker open) for directory ${failing.join(', ')}`);
    // Issue 10: a CA that cannot sign (not ACTIVE, expired, credentials or caTag refused).
    const unusable = health.flatMap((d) => (d.caNotReady ? [`${d.directory}: ${d.caNotReady}`] : []));
    if (unusable.length) throw new Error(`the Private CA cannot issue for directory ${unusable.join('; ')}`);
  };
  const pcaByDirectory = new Map(built.map((b) => [b.gateway.name, b.gateway.pca]));
  const admin = buildAdminListener({
    config,
    store,
    clock,
    random,
    logger,
    metrics,
    scope,
    ops,
    consolePcas: built.map((b) => ({ directory: b.gateway.name, pca: b.gateway.pca, caNotReady: () => b.gateway.ca.notReady() })),
    pcaFor: (directory) => pcaByDirectory.get(directory),
    crlFor: (directory) => built.find((b) => b.gateway.name === directory)?.crl,
    trustAnchorPems: () => built.flatMap((b) => b.trustAnchors.pems()),
    ready,
    ...(o.adminToken ? { token: o.adminToken } : {}),
  });

  // Housekeeping: redeemed nonces past their lifetime, finished jobs after a week (kept that long for
  // post-mortems of an order's timeline), and each directory's PCA audit.
  const housekeeping = new PeriodicTasks(
    [
      { name: 'prune nonces', everyMs: 10 * 60_000, run: () => nonces.prune() },
      { name: 'prune finished jobs', everyMs: 10 * 60_000, run: () => store.jobs.pruneFinished(clock.nowMs() - FINISHED_JOB_RETENTION_MS) },
      { name: 'prune learned PCA certificates', everyMs: 60 * 60_000, run: () => store.pcaCertificates.prune(clock.nowMs() - LEARNED_RETENTION_MS) },
      // Rate-limit events that have left their window (RFC 8555 §6.6 limits in the database).
      { name: 'prune rate-limit windows', everyMs: 10 * 60_000, run: () => store.rateLimits.prune(clock.nowMs()) },
      // Replicas sharing a database audit each PCA once: whoever holds the lock runs, the others skip.
      ...built.map((b) => ({ name: `PCA audit (${b.gateway.name})`, everyMs: b.auditIntervalMs, run: () => store.tryExclusive(`pca-audit:${b.gateway.name}`, () => b.gateway.audit.run()) })),
      ...ops.tasks,
    ],
    logger,
  );
  const servingCertificate = config.server.tls.mode === 'pca' ? servingCertificateFor(config, { pca: main.gateway.pca, clock, logger, store, sealer }) : null;

  for (const b of built) await Promise.all([b.trustAnchors.start(), b.gateway.ca.start()]);
  await new StartupRecovery({ store, clock, queue, logger }).run();
  jobs.start();
  housekeeping.start();

  return {
    config,
    app,
    linker,
    store,
    jobs,
    pca: main.gateway.pca,
    audit: main.gateway.audit,
    directories: built.map((b) => b.gateway),
    simulator: sim?.running ?? null,
    trustAnchorPems: main.gateway.trustAnchorPems,
    servingCertificate,
    logger,
    metrics,
    admin,
    stopWaiting: () => queue.stopWaits(),
    async close() {
      queue.stopWaits();
      // Housekeeping (the PCA audits) and the jobs wind down together, both before the database closes.
      const housekeepingDone = housekeeping.stop(5_000);
      for (const b of built) [b.trustAnchors, b.gateway.ca].forEach((c) => c.stop());
      servingCertificate?.stop();
      await jobs.stop(10_000);
      await housekeepingDone;
      await store.close();
      for (const b of built) b.closePca();
      await sim?.running.close();
    },
  };
}

/** What building one directory needs from the gateway around it. */
interface SharedParts {
  config: GatewayConfig;
  o: GatewayOverrides;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: Metrics;
  linker: Linker;
  store: Store;
  queue: JobQueue;
  sim: StartedSimulator | null;
  /** Where the validator may connect; also refuses IP identifiers at newOrder. */
  addressPolicy: AddressPolicy;
  /** CAA (one policy for every directory for now); undefined when off. */
  caa: CaaWiring | undefined;
  /** The audit trail and webhooks (issue 13). */
  events: OpsEventSink;
}

/** One directory: its PCA target, trust anchors, validity and policy, use cases, issuance job and audit. */
function buildDirectory(spec: DirectorySpec, s: SharedParts) {
  const { clock, random, metrics, store, config, o } = s;
  const isDefault = spec.name === DEFAULT_DIRECTORY;
  const logger = isDefault ? s.logger : s.logger.child({ directory: spec.name });
  const target = spec.pca;

  // ---- the Private CA: the embedded simulator's CA for its caTag (reached through the same client
  // code, signature v2 and all, as the real cloud API), or the configured NCP endpoint ----
  let simulatedCa: SimulatedCa | null = null;
  let endpoint: PcaEndpoint | { client: PcaClient };
  if (isDefault && o.pca) {
    endpoint = { client: o.pca };
  } else if (target.kind === 'simulator') {
    const { running, accessKey, secretKey } = s.sim!;
    simulatedCa = (isDefault ? running.cas[0] : running.ca(target.caTag!))!;
    endpoint = { endpoint: running.url, caTag: simulatedCa.caTag, accessKey, secretKey, timeoutMs: target.timeoutMs };
  } else {
    const { caTag, accessKey, secretKey, timeoutMs } = target;
    endpoint = { endpoint: target.endpoint!, caTag: caTag!, accessKey: accessKey!, secretKey: secretKey!, timeoutMs, ca: target.caFile ? readFileSync(target.caFile, 'utf8') : undefined };
  }
  const { pca, ca, caKey, close: closePca } = connectPca(endpoint, target, { clock, logger, metrics, simulatorKeyRule: config.simulator.behaviour.keyRule ?? 'any', name: spec.name });
  const pcaDescription =
    'client' in endpoint ? 'a PCA client given by the caller' : `${simulatedCa ? 'embedded NCP PCA simulator' : `NCP PCA ${endpoint.endpoint}`} (caTag ${endpoint.caTag})`;

  // ---- trust anchors for "never serve a wrong certificate" ----
  const fixedAnchors =
    isDefault && o.trustAnchorPems
      ? o.trustAnchorPems
      : target.trustAnchorFile
        ? splitCertificatePems(readFileSync(target.trustAnchorFile, 'utf8'))
        : simulatedCa
          ? [simulatedCa.rootPem]
          : null;
  const trustAnchors = new TrustAnchors({ pca, fixed: fixedAnchors?.map((p) => new X509Certificate(p)) ?? null, logger });

  // ---- validity, policy and the use cases ----
  const validity = new ValidityPolicy({ defaultPeriodDays: target.period, profiles: config.acme.profiles, defaultProfile: config.acme.defaultProfile });
  const source = isDefault ? 'the default directory' : `directory "${spec.name}"`;
  const policy = new IssuancePolicy([{ source, rules: spec.policy }]);
  const ctx: ServiceContext = { store, clock, random, logger, metrics, settings: { ...serviceSettings(config, spec, policy), source }, jobs: s.queue, events: s.events };
  // Issue 10: one search of the CA's list for every job that needs it; what it learns is kept.
  const search = new PcaCertificateSearch({ pca, ca: caKey, store, clock, logger: logger.child({ component: 'pca-search' }) });
  const audit = new PcaAudit({ store, search, clock, random, logger: logger.child({ component: 'pca-audit' }), directory: spec.name, sharedWatermark: isDefault });
  const issuance = new IssuanceJob({
    store,
    pca,
    search,
    validity,
    validityCap: validityCapOf(store, policy),
    trustAnchors: () => trustAnchors.current(),
    clock,
    random,
    logger: logger.child({ component: 'issuance' }),
    metrics,
    ca,
    events: s.events,
    ...(s.caa ? { caaRecheck: new CaaRecheck({ store, caa: s.caa, clock, logger }) } : {}),
  });
  // Revocations (ACME and operators') are confirmed and published through one publisher per CA.
  const crl = new CrlPublisher(pca, target.rotateCrlAfterRevoke, logger);
  const routes: DirectoryRoutes = {
    name: spec.name,
    meta: {
      externalAccountRequired: spec.acme.externalAccountRequired,
      termsOfService: spec.acme.termsOfService ?? null,
      website: spec.acme.website ?? null,
      // Read on every directory request: the descriptions follow the CA's key rule as last read.
      get profiles() {
        return Object.fromEntries(Object.entries(config.acme.profiles).map(([name, p]) => [name, ca.describeProfile(p.description, p.keyTypes)]));
      },
    },
    accounts: new AccountService(ctx),
    orders: new OrderService(ctx, validity, s.addressPolicy, ca),
    authorizations: new AuthorizationService(ctx),
    challenges: new ChallengeService(ctx),
    certificates: new CertificateService(ctx),
    revocation: new RevocationService(ctx, pca, crl),
    keyChange: new KeyChangeService(ctx, s.linker),
    renewalInfo: new RenewalInfoService(ctx),
  };
  const gateway: GatewayDirectory = {
    name: spec.name,
    url: s.linker.url('directory', spec.name),
    pca,
    trustAnchorPems: () => trustAnchors.pems(),
    rootPemPath: target.trustAnchorFile ?? simulatedCa?.rootPemPath ?? null,
    pcaDescription,
    audit,
    ca,
  };
  return { gateway, routes, issuance, trustAnchors, closePca, crl, auditIntervalMs: target.auditIntervalMs };
}

/**
 * The embedded default, with keys per process: a real NCP-compatible endpoint on loopback, on a
 * thread of its own when simulator.thread allows it (pca/simulator/thread.ts).
 */
async function startSimulator(config: GatewayConfig, simulated: DirectorySpec[], random: Random, logger: Logger) {
  const { host, port } = splitListenAddress(config.simulator.listen);
  const accessKey = `sim-${random.bytes(8).toString('hex')}`;
  const secretKey = random.bytes(24).toString('base64url');
  const pretty = config.logging.format === 'pretty' || (config.logging.format === 'auto' && process.stdout.isTTY === true);
  const running = await startSimulatorMaybeThreaded(
    {
      host,
      port,
      dataDir: config.simulator.dataDir,
      accessKey,
      secretKey,
      tiers: config.simulator.tiers,
      defaultPeriodDays: config.pca.period,
      ...(config.pca.kind === 'simulator' && config.pca.caTag ? { caTag: config.pca.caTag } : {}),
      extraCaTags: simulated.filter((d) => d.name !== DEFAULT_DIRECTORY).map((d) => d.pca.caTag!),
      // The trial mode signs every key a client commonly sends; the rest of the simulator is strict.
      behaviour: { keyRule: 'any', ...config.simulator.behaviour },
      log: { level: config.logging.level, pretty },
    },
    config.simulator.thread,
    logger.child({ component: 'pca-simulator' }),
  );
  return { running, accessKey, secretKey };
}

/** The simulator this gateway started, with its per-process credentials (never configured, never logged). */
type StartedSimulator = Awaited<ReturnType<typeof startSimulator>>;

/** The configuration as one directory's use cases see it (services/context.ts). */
function serviceSettings(config: GatewayConfig, spec: DirectorySpec, policy: IssuancePolicy): Omit<ServiceSettings, 'source'> {
  const profiles = config.acme.profiles;
  return {
    termsOfServiceRequired: spec.acme.termsOfService !== undefined,
    externalAccountRequired: spec.acme.externalAccountRequired,
    orderLifetimeMs: config.acme.orderLifetimeSeconds * 1000,
    authorizationLifetimeMs: config.acme.authorizationLifetimeSeconds * 1000,
    finalizeWaitMs: config.server.finalizeWaitMs,
    challengeWaitMs: config.server.challengeWaitMs,
    profileKeyTypes: (profile) => (profile !== null && Object.hasOwn(profiles, profile) ? profiles[profile]!.keyTypes : undefined),
    policy,
    rateLimits: spec.rateLimits,
    preAuthorization: spec.policy.preAuthorization === true,
  };
}

/** Finished jobs are kept this long for post-mortems of an order's timeline, then pruned. */
const FINISHED_JOB_RETENTION_MS = 7 * 86_400_000;

/**
 * tls.mode "pca": the listener's own certificate comes from the PCA it fronts, for the external
 * URL's host, kept in the database for every replica (its key sealed with the key-encryption key),
 * obtained by one replica at a time under a lock, and copied beside the database
 * (pca/serving-certificate.ts).
 */
function servingCertificateFor(
  config: GatewayConfig,
  d: { pca: PcaClient; clock: Clock; logger: Logger; store: Store; sealer: EabKeySealer },
): ServingCertificateManager {
  const host = new URL(config.server.externalUrl).hostname.replace(/^\[|\]$/g, '');
  const key = `serving_certificate:${host}`;
  return new ServingCertificateManager({
    pca: d.pca,
    host,
    periodDays: Math.min(config.pca.period, 90),
    // Beside the key-encryption key: the database's directory with SQLite, the replica's own with PostgreSQL.
    cacheDir: dirname(eabKekPath(config)),
    renewAtFraction: config.server.tls.renewAtFraction,
    clock: d.clock,
    logger: d.logger,
    shared: {
      sealer: d.sealer,
      store: {
        read: () => d.store.settings.get(key),
        write: (expected, next) => d.store.settings.compareAndSet(key, expected, next),
        exclusive: (fn) => d.store.tryExclusive(key, fn),
      },
    },
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

/** How often the serving gateway's checkpoint thread checkpoints its SQLite WAL. */
const SQLITE_CHECKPOINT_EVERY_MS = 200;

/**
 * The configured store: PostgreSQL when storage.postgres names a database (replicas share it), the
 * SQLite file otherwise. Opening either applies its migrations.
 */
export async function openStore(config: GatewayConfig, logger: Logger, use: { serving?: boolean } = {}): Promise<Store> {
  if (!config.storage.postgres) {
    if (!use.serving) return openSqliteStore({ path: config.storage.sqlite! });
    // The gateway's WAL is checkpointed on a thread, not in its request-serving commits (store/sqlite/checkpointer.ts).
    const log = logger.child({ component: 'sqlite' });
    return openSqliteStore({
      path: config.storage.sqlite!,
      checkpointThreadMs: SQLITE_CHECKPOINT_EVERY_MS,
      checkpointEvents: {
        onError: (message) => log.warn({ err: message }, 'WAL checkpoint failed; trying again'),
        onEnded: (reason) => log.error({ err: reason }, 'the WAL checkpoint thread ended; commits checkpoint again'),
      },
    });
  }
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
