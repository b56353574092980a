import type { IssuancePolicy } from '../acme/issuance-policy.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Order } from '../acme/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Job, Store } from '../store/types.js';
import type { JobHandler } from './runner.js';

// Issue 9: an order is issued by its own directory's PCA. The job runner has one handler per job
// kind, so this one reads the order's directory and hands the job to that directory's issuance
// job (issue.ts, each with its own PCA client, breaker, validity, trust anchors and reconciler).

export interface IssuanceByDirectoryDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Each configured directory's issuance job, by directory name. */
  handlers: ReadonlyMap<string, JobHandler>;
  /** Where a job whose order is gone goes (it only closes the job). */
  fallback: JobHandler;
}

export class IssuanceByDirectory implements JobHandler {
  constructor(private readonly d: IssuanceByDirectoryDeps) {}

  async run(job: Job): Promise<void> {
    const handler = await this.handlerFor(job);
    if (handler) await handler.run(job);
  }

  async giveUp(job: Job, error: unknown): Promise<void> {
    const handler = await this.handlerFor(job);
    if (handler) await handler.giveUp(job, error);
  }

  /**
   * The handler of the order's directory; null when the directory is no longer configured: then no
   * PCA of ours can issue the order, so it ends invalid (ARCHITECTURE.md: background work always ends).
   */
  private async handlerFor(job: Job): Promise<JobHandler | null> {
    const { store, clock } = this.d;
    const order = await store.orders.get(job.subjectId);
    if (!order) return this.d.fallback;
    const handler = this.d.handlers.get(order.directory);
    if (handler) return handler;
    this.d.logger.error({ orderId: order.id, directory: order.directory, jobId: job.id }, 'an order of a directory that is no longer configured cannot be issued');
    const problem = new AcmeProblem('serverInternal', `directory "${order.directory}" is no longer served by this gateway`);
    await store.orders.fail(order.id, problem.toDocument(), clock.now());
    await store.jobs.finish(job.id, 'failed', problem.detail, clock.nowMs());
    return null;
  }
}

/**
 * The validity cap of an order (the issuance policy's maxValidityDays, narrowed by the order's EAB
 * key), for the `period` the issuance job asks the PCA for. A key the order names but the store no
 * longer has fails the attempt rather than issue without its limits.
 */
export function validityCapOf(store: Store, policy: IssuancePolicy): (order: Order) => Promise<number | null> {
  return async (order) => {
    if (!order.eabKeyId) return policy.maxValidity()?.days ?? null;
    const key = await store.eabKeys.get(order.eabKeyId);
    if (!key) throw new Error(`the EAB key ${order.eabKeyId} of order ${order.id} is missing`);
    return policy.narrowedBy(key.policy ? { source: `EAB key ${key.id}`, rules: key.policy } : null).maxValidity()?.days ?? null;
  };
}
