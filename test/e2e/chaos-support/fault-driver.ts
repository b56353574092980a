import { isDeepStrictEqual } from 'node:util';
import type { FaultConfig, FaultKind } from '../../../src/pca/simulator/faults.js';

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
  /** The fault kinds some applied phase asked for (a rate above 0, or a latency). */
  readonly asked: ReadonlySet<FaultKind>;
  /** Stops the rotation, clears the faults; rejects if any phase was not applied exactly as asked. */
  stop(): Promise<void>;
}

/** The fault kinds a config asks for. */
export function kindsAsked(c: FaultConfig): FaultKind[] {
  const kinds: FaultKind[] = [];
  if ((c.latencyMs ?? 0) > 0) kinds.push('latency');
  if ((c.errorRate ?? 0) > 0) kinds.push('error');
  if ((c.timeoutRate ?? 0) > 0) kinds.push('timeout');
  if ((c.malformedRate ?? 0) > 0) kinds.push('malformed');
  if ((c.wrongKeyRate ?? 0) > 0) kinds.push('wrongKey');
  if ((c.dropAfterSignRate ?? 0) > 0) kinds.push('dropAfterSign');
  return kinds;
}

/**
 * Applies chaosPhase(0), chaosPhase(1), ... every `periodMs`. `set` answers with the config the
 * simulator now holds; a failed call or an answer other than the config sent is recorded and makes
 * stop() reject, so a run whose faults were never applied cannot pass as a chaos run.
 */
export function driveFaults(set: (c: FaultConfig) => Promise<FaultConfig>, periodMs: number, maxLatencyMs: number, rnd: () => number = Math.random): FaultDriver {
  let phases = 0;
  let started = 0;
  let stopped = false;
  const asked = new Set<FaultKind>();
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const apply = async (config: FaultConfig, label: string): Promise<void> => {
    try {
      const held = await set(config);
      if (!isDeepStrictEqual(held, config)) failures.push(`${label}: asked ${JSON.stringify(config)}, the simulator holds ${JSON.stringify(held)}`);
    } catch (e) {
      failures.push(`${label}: ${(e as Error).message}`);
      throw e;
    }
  };
  const tick = (): void => {
    if (stopped) return;
    const config = chaosPhase(started++, rnd, maxLatencyMs);
    const p = apply(config, `phase ${started - 1}`).then(
      () => {
        phases++;
        for (const k of kindsAsked(config)) asked.add(k);
      },
      () => undefined,
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  tick();
  const timer = setInterval(tick, periodMs);
  return {
    get phases() {
      return phases;
    },
    asked,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(inFlight);
      await apply({}, 'clearing the faults').catch(() => undefined);
      if (failures.length > 0) throw new Error(`fault injection was not applied as asked:\n${failures.join('\n')}`);
    },
  };
}
