import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Store } from '../store/types.js';
import type { JobQueue } from './queue.js';

// Start-up sweep: whatever a crash left behind is resumed, never left stuck (ARCHITECTURE.md
// "Background work always ends"). Running jobs whose owner is gone are queued again (which ones
// the store decides: all of them for SQLite's single writer, only expired leases for replicas
// sharing PostgreSQL), and every order or challenge still processing without a live job gets one,
// with the same deadlines as new work (JobQueue.newJob).

export interface RecoveryReport {
  requeued: number;
  orders: number;
  challenges: number;
}

export class StartupRecovery {
  constructor(private readonly o: { store: Store; clock: Clock; queue: JobQueue; logger: Logger }) {}

  async run(): Promise<RecoveryReport> {
    const { store, clock, queue, logger } = this.o;
    const now = clock.now();
    const requeued = await store.jobs.requeueRunning(now.getTime());
    let orders = 0;
    for (const orderId of await store.orders.listProcessingWithoutLiveJob()) {
      if (await store.jobs.ensure('issue', orderId, queue.newJob('issue', now), now.getTime())) orders++;
    }
    let challenges = 0;
    for (const challengeId of await store.challenges.listProcessingWithoutLiveJob()) {
      if (await store.jobs.ensure('validate', challengeId, queue.newJob('validate', now), now.getTime())) challenges++;
    }
    if (requeued || orders || challenges) logger.info({ requeued, orders, challenges }, 'resumed unfinished work from before the restart');
    return { requeued, orders, challenges };
  }
}
