import type { CrlPublisher } from './pca/crl-publisher.js';
import type { Hono } from 'hono';
import { buildAdminApp } from './admin/app.js';
import { ConsoleSource, type ConsolePca } from './admin/console-data.js';
import { AdminReadModel } from './admin/read-model.js';
import type { NotifyEvent } from './acme/ops-events.js';
import type { GatewayConfig } from './config/schema.js';
import { adminTokenPath } from './config/paths.js';
import { NotifyJob } from './jobs/notify.js';
import { DEFAULT_VALIDATION_DEADLINE_MS, JobQueue } from './jobs/queue.js';
import { loadAdminToken, type AdminToken } from './platform/admin-token.js';
import type { Clock } from './platform/clock.js';
import type { Logger } from './platform/logger.js';
import type { Metrics } from './platform/metrics.js';
import type { PeriodicTask } from './platform/periodic.js';
import type { Random } from './platform/random.js';
import type { RequestScope } from './platform/request-scope.js';
import { fetchPostJson, type PostJson } from './platform/webhook-post.js';
import type { PcaClient } from './pca/types.js';
import { ExpiryNotices } from './services/expiry-notices.js';
import { OperatorActions } from './services/operator-actions.js';
import { OpsEvents } from './services/ops-events.js';
import type { Store } from './store/types.js';

// The operations side's wiring (issue 13), beside deps.ts and like it a construction site: the
// audit trail and webhook sink, the notify job, the read model and the admin listener's app.

export interface OpsParts {
  events: OpsEvents;
  readModel: AdminReadModel;
  notify: NotifyJob;
  /** Housekeeping to add: the expiry notices, when a webhook listens for them. */
  tasks: PeriodicTask[];
}

export function buildOpsParts(p: {
  config: GatewayConfig;
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: Metrics;
  queue: JobQueue;
  scope: RequestScope;
  post?: PostJson;
}): OpsParts {
  const hooks = p.config.notifications.webhooks;
  const events = new OpsEvents({
    store: p.store,
    clock: p.clock,
    random: p.random,
    logger: p.logger.child({ component: 'audit' }),
    jobs: p.queue,
    webhooks: hooks.map((h) => ({ url: h.url, events: h.events as NotifyEvent[] })),
    scope: p.scope,
  });
  const notify = new NotifyJob({
    store: p.store,
    clock: p.clock,
    logger: p.logger.child({ component: 'webhooks' }),
    post: p.post ?? fetchPostJson,
    webhooks: hooks.map((h) => ({ url: h.url, secret: h.secret, timeoutMs: h.timeoutMs })),
    metrics: p.metrics,
  });
  const readModel = new AdminReadModel({ store: p.store, clock: p.clock });
  p.metrics.observeSnapshot(() => readModel.snapshot());
  const tasks: PeriodicTask[] = [];
  if (hooks.some((h) => h.events.includes('certificate.expiring'))) {
    const expiry = new ExpiryNotices({ store: p.store, clock: p.clock, events, withinDays: p.config.notifications.expiringWithinDays });
    // Replicas sharing a database scan once: whoever holds the lock runs, the others skip.
    tasks.push({ name: 'expiry notices', everyMs: p.config.notifications.expiryScanIntervalMs, run: () => p.store.tryExclusive('expiry-notices', () => expiry.scan()) });
  }
  return { events, readModel, notify, tasks };
}

export interface AdminListenerParts {
  app: Hono;
  token: AdminToken;
  console: ConsoleSource;
}

export function buildAdminListener(p: {
  config: GatewayConfig;
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: Metrics;
  scope: RequestScope;
  ops: OpsParts;
  /** Every directory's PCA, the default directory first, shown on the console. */
  consolePcas: ConsolePca[];
  /** Each directory's PCA: an operator's revocation goes to the certificate's own CA. */
  pcaFor: (directory: string) => PcaClient | undefined;
  /** Each directory's CRL publisher (confirmed revocation, issue 10). */
  crlFor?: (directory: string) => CrlPublisher | undefined;
  trustAnchorPems: () => string[];
  ready: () => Promise<void>;
  token?: AdminToken;
}): AdminListenerParts {
  const token = p.token ?? loadAdminToken(adminTokenPath(p.config), p.random, p.config.admin.token);
  const consoleSource = new ConsoleSource({ readModel: p.ops.readModel, store: p.store, clock: p.clock, ready: p.ready, pcas: p.consolePcas, trustAnchorPems: p.trustAnchorPems });
  const app = buildAdminApp({
    token: token.token,
    tokenName: p.config.admin.tokenName,
    metrics: p.metrics,
    ready: p.ready,
    readModel: p.ops.readModel,
    actions: new OperatorActions({ store: p.store, clock: p.clock, logger: p.logger, events: p.ops.events, pcaFor: p.pcaFor, ...(p.crlFor ? { crlFor: p.crlFor } : {}) }),
    store: p.store,
    consoleData: () => consoleSource.data(),
    scope: p.scope,
    random: p.random,
    clock: p.clock,
    logger: p.logger.child({ component: 'admin' }),
  });
  return { app: app as unknown as Hono, token, console: consoleSource };
}

/** What the admin commands (cli/) use besides the store: the read model, the actions, the audit trail. */
export interface CommandOps {
  readModel: AdminReadModel;
  actions: OperatorActions;
  events: OpsEvents;
}

export function buildCommandOps(p: { config: GatewayConfig; store: Store; clock: Clock; random: Random; logger: Logger }): CommandOps {
  // Webhook deliveries a command causes are queued in the database; the running gateway sends them.
  const queue = new JobQueue({ random: p.random, deadlines: { validateMs: DEFAULT_VALIDATION_DEADLINE_MS, issueMs: p.config.pca.issuanceDeadlineMs } });
  const events = new OpsEvents({ store: p.store, clock: p.clock, random: p.random, logger: p.logger, jobs: queue, webhooks: p.config.notifications.webhooks.map((h) => ({ url: h.url, events: h.events })) });
  return { readModel: new AdminReadModel({ store: p.store, clock: p.clock }), actions: new OperatorActions({ store: p.store, clock: p.clock, logger: p.logger, events }), events };
}
