import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics. One registry per gateway (built in deps.ts), never prom-client's global one,
// so tests and several gateways in one process do not share counters.

/** What the gauges read from the database. */
export interface OpsSnapshot {
  atMs: number;
  ordersByStatus: Record<string, number | undefined>;
  jobs: Array<{ kind: string; depth: number; oldestQueuedRunAt: number | null }>;
  expiringWithin7d: number;
  expiringWithin30d: number;
}

/** One ACME directory's issuing side, as /readyz judges it (deps.ts reads it from the directory's PCA and CA watch). */
export interface DirectoryHealth {
  directory: string;
  /** The PCA client's circuit breaker (pca/resilient.ts). */
  breaker: 'closed' | 'open' | 'half-open';
  /** Why the directory's Private CA cannot issue now (not ACTIVE, expired, credentials refused); null when it can. */
  caNotReady: string | null;
}

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

const EMPTY_SNAPSHOT: OpsSnapshot = { atMs: 0, ordersByStatus: {}, jobs: [], expiringWithin7d: 0, expiringWithin30d: 0 };

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'route'>;
  readonly orders: Counter<'event'>;
  readonly validations: Counter<'type' | 'result'>;
  readonly pcaCalls: Histogram<'operation' | 'outcome'>;
  readonly jobsInFlight: Gauge;
  readonly jobRuns: Counter<'kind' | 'outcome'>;
  /** Every problem document answered, by ACME type: badNonce and rateLimited are the refusals to watch. */
  readonly problems: Counter<'type'>;
  readonly webhookDeliveries: Counter<'outcome'>;
  readonly ordersByStatus: Gauge<'status'>;
  readonly jobQueueDepth: Gauge<'kind'>;
  readonly jobQueueOldestAge: Gauge<'kind'>;
  readonly certificatesExpiring: Gauge<'within'>;
  readonly caNotAfter: Gauge;
  readonly directoryReady: Gauge<'directory'>;
  readonly pcaBreaker: Gauge<'directory' | 'state'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'acme_http_requests_total',
      help: 'ACME HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'acme_http_request_duration_seconds',
      help: 'ACME HTTP request latency by route',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.orders = new Counter({
      name: 'acme_orders_total',
      help: 'Order events: created, finalized, and the end of issuance: valid (certificate attached) or invalid',
      labelNames: ['event'],
      registers: [this.registry],
    });
    this.validations = new Counter({
      name: 'acme_validations_total',
      help: 'Challenge validations by type and result',
      labelNames: ['type', 'result'],
      registers: [this.registry],
    });
    this.pcaCalls = new Histogram({
      name: 'acme_pca_call_duration_seconds',
      help: 'Calls to the Private CA by operation and outcome',
      labelNames: ['operation', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.jobRuns = new Counter({
      name: 'acme_job_runs_total',
      help: 'Background job runs by kind and outcome: done, retry, gave_up',
      labelNames: ['kind', 'outcome'],
      registers: [this.registry],
    });
    this.problems = new Counter({
      name: 'acme_problems_total',
      help: 'Problem documents answered to ACME clients, by ACME error type (badNonce, rateLimited, rejectedIdentifier, ...)',
      labelNames: ['type'],
      registers: [this.registry],
    });
    this.webhookDeliveries = new Counter({
      name: 'acme_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, failed (retried), gave_up',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    const metrics = this;
    // Read from the database at each scrape (one query set per scrape, shared by the four gauges).
    this.ordersByStatus = new Gauge({
      name: 'acme_orders',
      help: 'Orders in the database by status (valid and invalid are final)',
      labelNames: ['status'],
      registers: [this.registry],
      collect() {
        const s = metrics.snapshot();
        this.reset();
        for (const [status, n] of Object.entries(s.ordersByStatus)) this.set({ status }, n ?? 0);
      },
    });
    this.jobQueueDepth = new Gauge({
      name: 'acme_job_queue_depth',
      help: 'Jobs queued or running, by kind',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const s = metrics.snapshot();
        this.reset();
        for (const j of s.jobs) this.set({ kind: j.kind }, j.depth);
      },
    });
    this.jobQueueOldestAge = new Gauge({
      name: 'acme_job_queue_oldest_age_seconds',
      help: 'How long the oldest queued job of each kind has been due',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const s = metrics.snapshot();
        this.reset();
        for (const j of s.jobs) this.set({ kind: j.kind }, j.oldestQueuedRunAt === null ? 0 : Math.max(0, (s.atMs - j.oldestQueuedRunAt) / 1000));
      },
    });
    this.certificatesExpiring = new Gauge({
      name: 'acme_certificates_expiring',
      help: 'Valid certificates not renewed that expire within 7d or 30d',
      labelNames: ['within'],
      registers: [this.registry],
      collect() {
        const s = metrics.snapshot();
        this.set({ within: '7d' }, s.expiringWithin7d);
        this.set({ within: '30d' }, s.expiringWithin30d);
      },
    });
    this.caNotAfter = new Gauge({
      name: 'acme_ca_not_after_timestamp_seconds',
      help: 'When the soonest-expiring trust anchor the gateway checks chains against expires (Unix time)',
      registers: [this.registry],
      collect() {
        const times = metrics.caNotAfterProvider();
        if (times.length) this.set(Math.min(...times) / 1000);
      },
    });
    // Per directory, so that an operator with several CAs sees which one stopped issuing.
    this.directoryReady = new Gauge({
      name: 'acme_directory_ready',
      help: "1 when the directory can issue now (its PCA's circuit breaker is not open and its Private CA is usable), else 0",
      labelNames: ['directory'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of metrics.directoriesProvider()) this.set({ directory: d.directory }, d.breaker !== 'open' && d.caNotReady === null ? 1 : 0);
      },
    });
    this.pcaBreaker = new Gauge({
      name: 'acme_pca_breaker_state',
      help: "The directory's PCA circuit breaker: 1 for the state it is in (closed, open, half-open), 0 for the others",
      labelNames: ['directory', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of metrics.directoriesProvider()) for (const state of BREAKER_STATES) this.set({ directory: d.directory, state }, d.breaker === state ? 1 : 0);
      },
    });
    this.jobsInFlight = new Gauge({
      name: 'acme_jobs_in_flight',
      help: 'Background jobs running now in this process',
      registers: [this.registry],
      collect() {
        this.set(metrics.jobsInFlightProvider());
      },
    });
  }

  private jobsInFlightProvider: () => number = () => 0;
  private directoriesProvider: () => DirectoryHealth[] = () => [];

  /** Every directory's breaker and CA state, read at each scrape. */
  observeDirectories(read: () => DirectoryHealth[]): void {
    this.directoriesProvider = read;
  }
  private caNotAfterProvider: () => number[] = () => [];

  /** The trust anchors' notAfter (epoch ms), read at each scrape. */
  observeCaNotAfter(read: () => number[]): void {
    this.caNotAfterProvider = read;
  }
  private snapshotProvider: () => Promise<OpsSnapshot> = async () => EMPTY_SNAPSHOT;
  private current: OpsSnapshot = EMPTY_SNAPSHOT;

  /** The database's side of the metrics (deps.ts wires the admin read model), read at each scrape. */
  observeSnapshot(read: () => Promise<OpsSnapshot>): void {
    this.snapshotProvider = read;
  }

  /** The exposition text: the database is read once, then every gauge reports from that one read. */
  async scrape(): Promise<string> {
    this.current = await this.snapshotProvider().catch(() => EMPTY_SNAPSHOT);
    return this.registry.metrics();
  }

  private snapshot(): OpsSnapshot {
    return this.current;
  }

  /** The job runner's count, read at each scrape. */
  observeJobsInFlight(read: () => number): void {
    this.jobsInFlightProvider = read;
  }
}
