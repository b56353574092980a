import type { GatewayConfig } from '../config/schema.js';
import type { JobEvents } from '../jobs/events.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Random } from '../platform/random.js';
import type { Store } from '../store/types.js';

/** What every use case needs; built once in deps.ts and passed in. */
export interface ServiceContext {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  config: GatewayConfig;
  /** Wakes the job runner so queued work starts now rather than at the next poll. */
  kickJobs(): void;
  /** Signals the end of each job run in this process. */
  jobEvents: JobEvents;
}

export const newId = (ctx: Pick<ServiceContext, 'random'>): string => ctx.random.bytes(12).toString('base64url');
