import { z } from 'zod';

// The simulator's switchable behaviours: how it answers where NCP's documentation leaves the real
// PCA's behaviour open (ncp-pca-api §4), so that a test can show the gateway copes with each
// variant, or says why not. They come from the simulator's options (the gateway's `simulator.behaviour`,
// the standalone command's flags) and can be changed at run time through the fault endpoint
// (PUT /_simulator/faults {"behaviour": {...}}): what the fault configuration names overrides the
// configured value, and clearing the faults restores it.

export interface SimulatorBehaviour {
  /**
   * Which CSR keys the CA signs. 'ca': only keys of the CA's own type and size, which is what NAVER's
   * cert-manager issuer assumes (pkg/pca/pca.go NewSigner refuses a key that does not match the CA
   * certificate); 'any': every key the simulator can sign (RSA 2048/3072/4096, P-256/384/521).
   */
  keyRule: 'ca' | 'any';
  /** 'ignored': GET /cert answers page 1 whatever pageNo says (pageNo is documented only by the SDK, §3.4). */
  listPaging: 'honoured' | 'ignored';
  /** Order of GET /cert: the list's order is undocumented (§4.11). */
  listOrder: 'oldest-first' | 'newest-first';
  /** The sign answer's caChain: an array (current docs, SDK) or one PEM string (older docs), §4.3. */
  caChain: 'array' | 'string';
  /** caInfo.status of every CA (§3.9: ACTIVE, DEACTIVATED, DESTROYING); anything but ACTIVE refuses to sign. */
  caStatus: string;
  /** The CA behaves as if its certificate ended this many days from now (Get CA, sign); null: its real end. */
  caExpiresInDays: number | null;
  /** The API gateway answers 429 (errorCode 420, "Rate Limited", §1.3) past this many calls per second; null: no limit. */
  rateLimitPerSecond: number | null;
  /** The PCA gateway's clock runs this far ahead of ours (its Date header, its ±5 min timestamp check, §1.2). */
  clockOffsetMs: number;
  /** How often the CRL is published: 0 = on every read; otherwise on this cycle and on POST /crl/rotate (§3.8). */
  crlCycleMs: number;
}

export const DEFAULT_BEHAVIOUR: SimulatorBehaviour = {
  keyRule: 'ca',
  listPaging: 'honoured',
  listOrder: 'oldest-first',
  caChain: 'array',
  caStatus: 'ACTIVE',
  caExpiresInDays: null,
  rateLimitPerSecond: null,
  clockOffsetMs: 0,
  crlCycleMs: 0,
};

export const behaviourSchema = z
  .object({
    keyRule: z.enum(['ca', 'any']),
    listPaging: z.enum(['honoured', 'ignored']),
    listOrder: z.enum(['oldest-first', 'newest-first']),
    caChain: z.enum(['array', 'string']),
    caStatus: z.string().regex(/^[A-Z_]{1,32}$/, 'an upper-case status such as ACTIVE, DEACTIVATED or DISABLED'),
    caExpiresInDays: z.number().min(0).max(3650).nullable(),
    rateLimitPerSecond: z.number().int().min(1).max(100_000).nullable(),
    clockOffsetMs: z.number().int().min(-86_400_000).max(86_400_000),
    crlCycleMs: z.number().int().min(0).max(7 * 86_400_000),
  })
  .partial()
  .strict();

export type BehaviourOverrides = z.infer<typeof behaviourSchema>;

/** The behaviour in force: the defaults, then the configured values, then what the fault endpoint set. */
export function effectiveBehaviour(configured: BehaviourOverrides | undefined, runtime: BehaviourOverrides | undefined): SimulatorBehaviour {
  return { ...DEFAULT_BEHAVIOUR, ...stripUndefined(configured), ...stripUndefined(runtime) };
}

function stripUndefined(o: BehaviourOverrides | undefined): BehaviourOverrides {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as BehaviourOverrides;
}

/** At most `limit` calls in any second: the calls let through in the last second are remembered. */
export class RateLimiter {
  private readonly admitted: number[] = [];

  /** True when the call is let through. */
  admit(nowMs: number, limit: number | null): boolean {
    if (limit === null) return true;
    while (this.admitted.length && this.admitted[0]! <= nowMs - 1_000) this.admitted.shift();
    if (this.admitted.length >= limit) return false;
    this.admitted.push(nowMs);
    return true;
  }
}
