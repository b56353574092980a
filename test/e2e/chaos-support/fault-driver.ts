import type { FaultConfig } from '../../../src/pca/simulator/faults.js';

// Mixed PCA faults for the chaos test. The simulator takes one FaultConfig at a time (one error
// status, independent rates), so "30% mixed faults" is a rotation of configs every `periodMs`, each
// with about 30% of requests hit. wrongKey is never combined with a fault that hides the answer
// (dropAfterSign, malformed): a certificate for a stranger's key whose answer never arrives cannot be
// found by anyone (reconciliation looks for the CSR's key), and no real PCA signs a key it was not sent.

const ERRORS: Array<{ errorStatus: number; errorCode: string }> = [
  { errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR' },
  { errorStatus: 503, errorCode: 'SERVICE_UNAVAILABLE' },
  { errorStatus: 429, errorCode: '420' }, // API Gateway "Rate Limited" (ncp-pca-api §1.3)
  { errorStatus: 502, errorCode: 'BAD_GATEWAY' },
];

export function chaosPhase(i: number, rnd: () => number, maxLatencyMs: number): FaultConfig {
  const err = ERRORS[i % ERRORS.length]!;
  const latencyMs = Math.floor(rnd() * maxLatencyMs);
  const endpoints: FaultConfig['endpoints'] = ['sign', 'list', 'get', 'chain'];
  if (i % 2 === 0) {
    // Faults that answer (or never answer) before the PCA does anything, and wrong certificates.
    return { ...err, errorRate: 0.14, timeoutRate: 0.06, wrongKeyRate: 0.1, latencyMs, endpoints };
  }
  // Faults that strike after the PCA issued: the gateway cannot tell whether it did.
  return { ...err, errorRate: 0.12, malformedRate: 0.08, dropAfterSignRate: 0.1, latencyMs, endpoints };
}

export interface FaultDriver {
  /** Phases applied so far. */
  readonly phases: number;
  stop(): Promise<void>;
}

export function driveFaults(set: (c: FaultConfig) => Promise<unknown>, periodMs: number, maxLatencyMs: number, rnd: () => number = Math.random): FaultDriver {
  let phases = 0;
  let stopped = false;
  let busy: Promise<unknown> = Promise.resolve();
  const tick = (): void => {
    if (stopped) return;
    busy = set(chaosPhase(phases, rnd, maxLatencyMs))
      .then(() => void phases++)
      .catch(() => undefined); // a restarting gateway: the next tick sets it again
  };
  tick();
  const timer = setInterval(tick, periodMs);
  return {
    get phases() {
      return phases;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await busy;
      await set({}).catch(() => undefined);
    },
  };
}
