import type { KeyType } from '../acme/csr.js';
import type { IssuancePolicy } from '../acme/issuance-policy.js';
import { noOpsEvents, type OpsEventSink } from '../acme/ops-events.js';
import type { RateLimitSettings } from '../acme/rate-limits.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { timeOrderedId, type Random } from '../platform/random.js';
import type { Store } from '../store/types.js';
import type { JobQueue } from './ports.js';

/**
 * What the use cases need of the configuration (deps.ts maps it; services never read config/). One
 * per directory: each directory's services are built with its own settings.
 */
export interface ServiceSettings {
  /** acme.termsOfService is set: newAccount needs termsOfServiceAgreed (RFC 8555 §7.3). */
  termsOfServiceRequired: boolean;
  /** acme.externalAccountRequired (RFC 8555 §7.3.4). */
  externalAccountRequired: boolean;
  orderLifetimeMs: number;
  authorizationLifetimeMs: number;
  /** How long finalize waits for the issuance job before answering "processing". */
  finalizeWaitMs: number;
  /** How long a challenge POST waits for its validation job before answering "processing". */
  challengeWaitMs: number;
  /** The key types a profile allows (undefined: any the gateway takes). */
  profileKeyTypes(profile: string | null): KeyType[] | undefined;
  /** The directory's issuance policy (issue 9); an account's EAB key may narrow it further. */
  policy: IssuancePolicy;
  /** How problem details name the directory: "the default directory", `directory "payments"`. */
  source: string;
  /** The directory's rate limits (RFC 8555 §6.6); an account's EAB key may override each. */
  rateLimits: RateLimitSettings;
  /** policy.preAuthorization: the pre-authorized scopes of an account's EAB key apply (off: ignored). */
  preAuthorization: boolean;
}

/** What every use case needs; built once in deps.ts and passed in. */
export interface ServiceContext {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** acme_orders_total{event="created"|"finalized"} move in the order use cases. */
  metrics: Metrics;
  settings: ServiceSettings;
  /** The background work: job records with their deadlines, wake-ups, and "a job has run". */
  jobs: JobQueue;
  /** The audit trail and webhooks (services/ops-events.ts); absent: nothing recorded. */
  events?: OpsEventSink;
}

/** The context's event sink, or one that drops everything. */
export const eventsOf = (ctx: Pick<ServiceContext, 'events'>): OpsEventSink => ctx.events ?? noOpsEvents;

/** The id of a new row: time-ordered (platform/random.ts timeOrderedId). */
export const newId = (ctx: Pick<ServiceContext, 'random' | 'clock'>): string => timeOrderedId(ctx.random, ctx.clock.nowMs());
