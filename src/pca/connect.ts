import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { meteredPcaClient } from './metered.js';
import { NcpPcaClient } from './ncp-client.js';
import { ResilientPcaClient } from './resilient.js';
import type { PcaClient } from './types.js';

// One PCA target as the gateway uses it: the NCP client (or a given one), metered, behind its own
// breaker and concurrency cap. Each directory gets one (issue 9), so a failing CA opens only its
// own breaker.

export interface PcaEndpoint {
  endpoint: string;
  caTag: string;
  accessKey: string;
  secretKey: string;
  timeoutMs: number;
  /** Extra PEM trust for an https endpoint. */
  ca?: string | undefined;
}

export interface PcaResilience {
  maxConcurrentCalls: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
}

export interface ConnectedPca {
  pca: ResilientPcaClient;
  close(): void;
}

export function connectPca(target: PcaEndpoint | { client: PcaClient }, resilience: PcaResilience, d: { clock: Clock; logger: Logger; metrics: Metrics }): ConnectedPca {
  let raw: PcaClient;
  let close = () => {};
  if ('client' in target) {
    raw = target.client;
  } else {
    const { ca, ...rest } = target;
    const client = new NcpPcaClient({ ...rest, clock: d.clock, logger: d.logger, ...(ca ? { ca } : {}) });
    raw = client;
    close = () => client.close();
  }
  const pca = new ResilientPcaClient(meteredPcaClient(raw, d.metrics), {
    clock: d.clock,
    logger: d.logger,
    maxConcurrent: resilience.maxConcurrentCalls,
    breakerThreshold: resilience.breakerThreshold,
    breakerCooldownMs: resilience.breakerCooldownMs,
    retrySign: false, // a sign whose answer was lost is reconciled by the issuance job, never blindly retried
  });
  return { pca, close };
}
