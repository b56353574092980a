// Messages between the orchestrator (run.ts, which hosts the server under test) and the load
// process (load/main.ts). The load runs in its own process so that process.cpuUsage() in the
// orchestrator counts the gateway's CPU only, not the client's signing and bookkeeping.

export const STEPS = ['newAccount', 'newOrder', 'authz', 'challengeToValid', 'finalizeToValid', 'download', 'wholeOrder'] as const;
export type Step = (typeof STEPS)[number];

export interface LoadReady {
  type: 'ready';
  dnsPort: number;
  challengePort: number;
}

export interface LoadRunRequest {
  type: 'run';
  label: string;
  directoryUrl: string;
  /** PEM the client trusts for the server's TLS; null for plain http. */
  caPem: string | null;
  orders: number;
  concurrency: number;
  pollMs: number;
  /** The run starts no order after this; orders under way may finish (polling ends 60 s later). */
  timeLimitMs: number;
  /** Prefix for the unique DNS names of this run, e.g. "g" → svc-g-17.bench.test */
  namePrefix: string;
  /** A new account key for every order instead of one per worker. */
  freshAccounts: boolean;
}

export interface LoadResult {
  type: 'result';
  label: string;
  ordersAttempted: number;
  ordersCompleted: number;
  errors: number;
  /** First few error messages, with how often each occurred. */
  errorSamples: { message: string; count: number }[];
  wallMs: number;
  /** Latency samples in ms, per step, for completed steps. */
  samples: Record<Step, number[]>;
  /** Client-side totals. */
  signedRequests: number;
  badNonceRetries: number;
  polls: number;
  accountsCreated: number;
  clientCpuMs: number;
  timedOut: boolean;
}

export type ToLoad = LoadRunRequest | { type: 'exit' };
export type FromLoad = LoadReady | LoadResult | { type: 'fatal'; message: string };
