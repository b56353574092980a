import { KEY_TYPES, type KeyType } from '../acme/csr.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { CaWatch } from './ca-status.js';
import { meteredPcaClient } from './metered.js';
import { NcpPcaClient } from './ncp-client.js';
import { ResilientPcaClient } from './resilient.js';
import type { PcaClient } from './types.js';

// One PCA target as the gateway uses it: the NCP client (or a given one), metered, behind its own
// breaker and concurrency cap, and the watch on its CA (issue 10: status, end, key rule). Each
// directory gets one (issue 9), so a failing CA opens only its own breaker.

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

/** The target's settings the CA watch reads (pca.kind, pca.keyTypes, pca.caRefreshMs). */
export interface PcaCaSettings {
  kind: 'simulator' | 'ncp';
  keyTypes?: 'ca' | KeyType[] | undefined;
  caRefreshMs: number;
}

export interface ConnectedPca {
  pca: ResilientPcaClient;
  /** The CA as last read (start it, stop it). */
  ca: CaWatch;
  /** Where what is learned of this CA's certificates is kept: its caTag (serials are unique per CA). */
  caKey: string;
  close(): void;
}

export function connectPca(
  target: PcaEndpoint | { client: PcaClient },
  settings: PcaResilience & PcaCaSettings,
  d: { clock: Clock; logger: Logger; metrics: Metrics; /** The embedded simulator's keyRule. */ simulatorKeyRule: 'ca' | 'any'; /** caKey of a given client. */ name: string },
): ConnectedPca {
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
    maxConcurrent: settings.maxConcurrentCalls,
    breakerThreshold: settings.breakerThreshold,
    breakerCooldownMs: settings.breakerCooldownMs,
    retrySign: false, // a sign whose answer was lost is reconciled by the issuance job, never blindly retried
  });
  const ca = new CaWatch({ pca, clock: d.clock, logger: d.logger.child({ component: 'ca' }), keyTypes: keyRuleOf(settings, d.simulatorKeyRule), refreshMs: settings.caRefreshMs });
  return { pca, ca, caKey: 'client' in target ? d.name : target.caTag, close };
}

/**
 * The CSR keys a target's CA signs (pca/ca-status.ts): pca.keyTypes when set; otherwise "ca" (its own
 * key type, NAVER's issuer's rule) for ncp, and for the embedded simulator what its keyRule signs.
 */
export function keyRuleOf(target: Pick<PcaCaSettings, 'kind' | 'keyTypes'>, simulatorKeyRule: 'ca' | 'any'): 'ca' | readonly KeyType[] {
  if (target.keyTypes) return target.keyTypes;
  return target.kind === 'simulator' && simulatorKeyRule === 'any' ? KEY_TYPES : 'ca';
}
