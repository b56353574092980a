import type { GatewayConfig } from '../config/schema.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { randomId, type Random } from '../platform/random.js';
import type { Store } from '../store/types.js';
import type { JobQueue } from './ports.js';

/** What every use case needs; built once in deps.ts and passed in. */
export interface ServiceContext {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  config: GatewayConfig;
  /** The background work: job records with their deadlines, wake-ups, and "a job has run". */
  jobs: JobQueue;
}

export const newId = (ctx: Pick<ServiceContext, 'random'>): string => randomId(ctx.random);
