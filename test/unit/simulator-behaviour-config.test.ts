import { describe, expect, it } from 'vitest';
import { simulatorBehaviourSchema } from '../../src/config/simulator-schema.js';
import { behaviourSchema, DEFAULT_BEHAVIOUR } from '../../src/pca/simulator/behaviour.js';

// The embedded simulator's behaviours are configured (config/simulator-schema.ts) and switched at
// run time (pca/simulator/behaviour.ts) with one shape, written twice because config/ imports
// nothing of ours: the two must accept and refuse the same things.

describe('simulator behaviour: the configuration and the fault endpoint take the same shape', () => {
  it('the same keys', () => {
    expect(Object.keys(simulatorBehaviourSchema.shape).sort()).toEqual(Object.keys(behaviourSchema.shape).sort());
    expect(Object.keys(DEFAULT_BEHAVIOUR).sort()).toEqual(Object.keys(behaviourSchema.shape).sort());
  });

  it.each([
    [{ keyRule: 'any' }, true],
    [{ keyRule: 'some' }, false],
    [{ listPaging: 'ignored', listOrder: 'newest-first', caChain: 'string' }, true],
    [{ caStatus: 'DISABLED' }, true],
    [{ caStatus: 'disabled' }, false],
    [{ caExpiresInDays: 30 }, true],
    [{ caExpiresInDays: -1 }, false],
    [{ rateLimitPerSecond: 5 }, true],
    [{ rateLimitPerSecond: 0 }, false],
    [{ clockOffsetMs: 600_000 }, true],
    [{ clockOffsetMs: 1.5 }, false],
    [{ crlCycleMs: 3_600_000 }, true],
    [{ unknown: 1 }, false],
  ])('%j → accepted %s by both', (input, ok) => {
    expect(simulatorBehaviourSchema.safeParse(input).success).toBe(ok);
    expect(behaviourSchema.safeParse(input).success).toBe(ok);
  });
});
