import { z } from 'zod';
import type { Random } from '../../platform/random.js';
import { behaviourSchema, type BehaviourOverrides } from './behaviour.js';

/**
 * The simulator's API groups that fault injection can target: 'get' is Get issued cert (§3.5), 'ca'
 * Get CA and Get CA List (§3.9, §3.10), 'rotate' the CRL rotation (§3.8).
 */
export type FaultEndpoint = 'sign' | 'revoke' | 'get' | 'list' | 'chain' | 'crl' | 'ca' | 'rotate';
const FAULT_ENDPOINTS = ['sign', 'revoke', 'get', 'list', 'chain', 'crl', 'ca', 'rotate'] as const;

export interface FaultConfig {
  /** Extra delay before answering, ms. */
  latencyMs?: number;
  /** Probability (0..1) of answering errorStatus / errorCode instead of doing the work. */
  errorRate?: number;
  /** Default 500. */
  errorStatus?: number;
  /** Default INTERNAL_SERVER_ERROR; an all-digit code is sent in the API Gateway error shape instead. */
  errorCode?: string;
  /** Probability of accepting the request and never answering. */
  timeoutRate?: number;
  /** Probability of a 200 whose body is not valid JSON. */
  malformedRate?: number;
  /** sign only: probability of certifying a freshly generated key instead of the CSR's. */
  wrongKeyRate?: number;
  /** sign only: probability of issuing and persisting the certificate, then dropping the connection unanswered. */
  dropAfterSignRate?: number;
  /** Which endpoints the faults apply to; default ['sign']. */
  endpoints?: FaultEndpoint[];
  /** Behaviours switched at run time (behaviour.ts), over the configured ones; every endpoint. */
  behaviour?: BehaviourOverrides;
}

export interface FaultController {
  get(): FaultConfig;
  set(c: FaultConfig): void;
  /** The behaviour overrides now in force, not copied (read on every request). */
  behaviour(): Readonly<BehaviourOverrides> | undefined;
}

const rate = z.number().min(0).max(1);
export const faultConfigSchema = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000),
    errorRate: rate,
    errorStatus: z.number().int().min(400).max(599),
    errorCode: z.string().min(1).max(64),
    timeoutRate: rate,
    malformedRate: rate,
    wrongKeyRate: rate,
    dropAfterSignRate: rate,
    endpoints: z.array(z.enum(FAULT_ENDPOINTS)),
    behaviour: behaviourSchema,
  })
  .partial()
  .strict();

/** Validates and copies; throws a ZodError on bad input. */
export function parseFaultConfig(input: unknown): FaultConfig {
  return structuredClone(faultConfigSchema.parse(input ?? {})) as FaultConfig;
}

export function createFaultController(initial: FaultConfig = {}): FaultController {
  let current = parseFaultConfig(initial);
  return {
    get: () => structuredClone(current),
    set: (c) => {
      current = parseFaultConfig(c);
    },
    behaviour: () => current.behaviour,
  };
}

/** A uniform draw in [0, 1) from 48 random bits of the injected Random. */
export function unitDraw(random: Random): number {
  return random.bytes(6).readUIntBE(0, 6) / 2 ** 48;
}

/** The faults that fire for one request, drawn once when the request arrives. */
export interface FaultPlan {
  latencyMs: number;
  timeout: boolean;
  error?: { status: number; code: string };
  malformed: boolean;
  wrongKey: boolean;
  dropAfterSign: boolean;
}

export function planFaults(config: FaultConfig, endpoint: FaultEndpoint, random: Random): FaultPlan {
  const applies = (config.endpoints ?? ['sign']).includes(endpoint);
  // A rate of 0 (or unset) draws nothing, so a deterministic Random stays aligned across configs.
  const hit = (r: number | undefined): boolean => applies && (r ?? 0) > 0 && unitDraw(random) < (r ?? 0);
  const plan: FaultPlan = {
    latencyMs: applies ? (config.latencyMs ?? 0) : 0,
    timeout: hit(config.timeoutRate),
    malformed: false,
    wrongKey: false,
    dropAfterSign: false,
  };
  if (hit(config.errorRate)) plan.error = { status: config.errorStatus ?? 500, code: config.errorCode ?? 'INTERNAL_SERVER_ERROR' };
  plan.malformed = hit(config.malformedRate);
  if (endpoint === 'sign') {
    plan.wrongKey = hit(config.wrongKeyRate);
    plan.dropAfterSign = hit(config.dropAfterSignRate);
  }
  return plan;
}

/** The faults that can take effect on a request (each FaultConfig rate, and latency). */
export type FaultKind = 'latency' | 'timeout' | 'error' | 'malformed' | 'wrongKey' | 'dropAfterSign';

/** How often each fault took effect, per endpoint (GET /_simulator/faults/fired). */
export type FiredFaults = Partial<Record<FaultKind, Partial<Record<FaultEndpoint, number>>>>;

/**
 * Counts the faults that really took effect (not merely planned: an error answered first means the
 * sign work, and so a wrong key or a dropped answer, never happened), so that a test can tell that
 * what it asked for was done rather than assume it.
 */
export class FaultCounter {
  private counts: FiredFaults = {};

  fired(kind: FaultKind, endpoint: FaultEndpoint): void {
    const perEndpoint = (this.counts[kind] ??= {});
    perEndpoint[endpoint] = (perEndpoint[endpoint] ?? 0) + 1;
  }

  snapshot(): FiredFaults {
    return structuredClone(this.counts);
  }
}
