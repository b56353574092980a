import { describe, expect, it } from 'vitest';
import { startFloorServer } from './floor-server.js';
import { startChallengeServer } from './load/challenge-server.js';
import { runLoad } from './load/drive.js';
import { startDnsResponder } from './load/dns-responder.js';

// Part of the unit project (`npm test`): the floor server (bench/floor-vs-pebble.sh) must keep
// serving the whole flow, real http-01 and the simulator's signature included, or its figures mean nothing.

describe('bench floor server', () => {
  it.each([
    ['the simulator signing through the NCP client', false],
    ['an in-process CA (--in-process-ca)', true],
  ])('completes full ACME orders with real http-01 validation and %s', async (_what, inProcessCa) => {
    const dns = await startDnsResponder();
    const challenges = await startChallengeServer();
    const floor = await startFloorServer({ dns: `127.0.0.1:${dns.port}`, httpPort: challenges.port, inProcessCa });
    try {
      const result = await runLoad(
        { type: 'run', label: 'floor', directoryUrl: floor.directoryUrl, caPem: floor.caPem, orders: 4, concurrency: 2, pollMs: 5, timeLimitMs: 30_000, namePrefix: 'floor', freshAccounts: false },
        challenges,
      );
      expect(result.errorSamples).toEqual([]);
      expect(result.ordersCompleted).toBe(4);
      expect(challenges.served).toBe(4);
    } finally {
      await floor.close();
      await challenges.close();
      await dns.close();
    }
  }, 60_000);
});
