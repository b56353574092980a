import { z } from 'zod';

// `simulator.behaviour`: how the embedded PCA simulator answers where NCP's documentation leaves
// the PCA open (issue 10). The simulator validates the same shape on its fault endpoint
// (pca/simulator/behaviour.ts; config/ imports nothing of ours, so the two are kept equal by a
// test, test/unit/simulator-behaviour-config.test.ts). Unset keys keep the simulator's defaults,
// except keyRule, which the embedded simulator sets to "any" (deps.ts) so that the trial mode
// signs every key a client commonly sends.

export const simulatorBehaviourSchema = z
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
