import { createHmac } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { PostJson } from '../platform/webhook-post.js';
import type { Job, Store } from '../store/types.js';
import type { JobHandler } from './runner.js';

// Webhook delivery, one job per event and webhook (queued by services/ops-events.ts). The body is
// POSTed as it was queued, signed with the webhook's secret:
//
//   X-Acme-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// so a receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant
// time, and refuses a timestamp too far from its clock (a replayed delivery). A 2xx answer delivers;
// anything else (or no answer) is retried by the runner with exponential backoff until the job's
// deadline (a day), then given up and logged. The secret never enters the database.

export const SIGNATURE_HEADER = 'X-Acme-Gateway-Signature';

/** The signature header's value for a body sent at `unixSeconds`. */
export function signWebhook(secret: string, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

export interface WebhookSecret {
  url: string;
  secret: string;
  timeoutMs: number;
}

export class NotifyJob implements JobHandler {
  constructor(
    private readonly o: { store: Store; clock: Clock; logger: Logger; post: PostJson; webhooks: readonly WebhookSecret[]; metrics?: Metrics },
  ) {}

  async run(job: Job): Promise<void> {
    const { url, event, body } = JSON.parse(job.payload ?? '{}') as { url?: string; event?: string; body?: string };
    const hook = this.o.webhooks.find((h) => h.url === url);
    if (!hook || !body || !event) {
      // The webhook was removed from the configuration since the event: nothing to deliver to.
      await this.o.store.jobs.finish(job.id, 'failed', `webhook ${url ?? '?'} is no longer configured`, this.o.clock.nowMs());
      return;
    }
    const t = Math.floor(this.o.clock.nowMs() / 1000);
    let status: number;
    try {
      ({ status } = await this.o.post(hook.url, body, { [SIGNATURE_HEADER]: signWebhook(hook.secret, t, body), 'X-Acme-Gateway-Event': event, 'X-Acme-Gateway-Delivery': job.id }, hook.timeoutMs));
    } catch (err) {
      this.o.metrics?.webhookDeliveries.inc({ outcome: 'failed' });
      throw new Error(`webhook ${hook.url}: ${(err as Error).message}`);
    }
    if (status < 200 || status > 299) {
      this.o.metrics?.webhookDeliveries.inc({ outcome: 'failed' });
      throw new Error(`webhook ${hook.url} answered HTTP ${status}`);
    }
    this.o.metrics?.webhookDeliveries.inc({ outcome: 'delivered' });
    await this.o.store.jobs.finish(job.id, 'done', null, this.o.clock.nowMs());
    this.o.logger.info({ event, webhook: hook.url, attempt: job.attempts }, 'webhook delivered');
  }

  async giveUp(job: Job, error: unknown): Promise<void> {
    this.o.metrics?.webhookDeliveries.inc({ outcome: 'gave_up' });
    this.o.logger.error({ jobId: job.id, err: (error as Error).message ?? String(error) }, 'webhook delivery given up after its deadline');
    await this.o.store.jobs.finish(job.id, 'failed', `gave up: ${(error as Error).message ?? String(error)}`, this.o.clock.nowMs());
  }
}
