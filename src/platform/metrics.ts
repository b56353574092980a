import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics. One registry per gateway (built in deps.ts), never prom-client's global one,
// so tests and several gateways in one process do not share counters.

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'route'>;
  readonly orders: Counter<'event'>;
  readonly validations: Counter<'type' | 'result'>;
  readonly pcaCalls: Histogram<'operation' | 'outcome'>;
  readonly jobsInFlight: Gauge;
  readonly jobRuns: Counter<'kind' | 'outcome'>;
  readonly problems: Counter<'type'>;

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
    // Which problems clients get (badNonce, orderNotReady, serverInternal…): behind a load balancer,
    // the first sign of replicas that do not agree (a nonce one refuses that another issued).
    this.problems = new Counter({
      name: 'acme_problems_total',
      help: 'Problem documents answered, by ACME error type',
      labelNames: ['type'],
      registers: [this.registry],
    });
    const metrics = this;
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

  /** The job runner's count, read at each scrape. */
  observeJobsInFlight(read: () => number): void {
    this.jobsInFlightProvider = read;
  }
}
