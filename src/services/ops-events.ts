import type { NotifyEvent, OpsEvent, OpsEventSink } from '../acme/ops-events.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { randomId, type Random } from '../platform/random.js';
import type { RequestScope } from '../platform/request-scope.js';
import type { Store } from '../store/types.js';
import type { JobQueue } from './ports.js';

// The one implementation of OpsEventSink (acme/ops-events.ts): an audit row per event, and for the
// events a webhook subscribed to a notify job per webhook, queued in the database so that delivery
// (jobs/notify.ts) is retried with backoff and never holds up the work that emitted it. Failures here
// are logged, never thrown: an audit or webhook problem must not fail an issuance.

/** A webhook as the sink needs it (deps.ts maps notifications.webhooks; the secret stays with the job handler). */
export interface WebhookTarget {
  url: string;
  events: readonly NotifyEvent[];
}

/** What a notify job carries: which webhook, and the body exactly as it will be signed and sent. */
export interface NotifyPayload {
  url: string;
  event: NotifyEvent;
  body: string;
}

export class OpsEvents implements OpsEventSink {
  constructor(
    private readonly o: {
      store: Store;
      clock: Clock;
      random: Random;
      logger: Logger;
      jobs: Pick<JobQueue, 'newJob' | 'kick'>;
      webhooks: readonly WebhookTarget[];
      /** The client's address for events raised inside a request. */
      scope?: RequestScope;
    },
  ) {}

  private lastMs = -1;
  private sameMs = 0;

  /**
   * The audit trail is read in (time, id) order; events of one millisecond keep the order they were
   * recorded in because the id starts with the time and a counter within it (then randomness, so
   * ids from several replicas never collide).
   */
  private nextId(nowMs: number): string {
    this.sameMs = nowMs === this.lastMs ? this.sameMs + 1 : 0;
    this.lastMs = nowMs;
    return `${nowMs.toString(36).padStart(9, '0')}${this.sameMs.toString(36).padStart(3, '0')}${randomId(this.o.random)}`;
  }

  async record(e: OpsEvent): Promise<void> {
    const now = this.o.clock.now();
    const id = this.nextId(now.getTime());
    const request = this.o.scope?.current();
    const actor = e.actor ?? (e.accountId && request ? { kind: 'account' as const, name: e.accountId } : { kind: 'system' as const, name: null });
    if (e.audit !== false) {
      try {
        await this.o.store.audit.append({
          id,
          at: now,
          actor: actor.kind,
          actorName: actor.name,
          clientIp: request?.clientIp ?? null,
          eabKeyId: e.eabKeyId ?? null,
          action: e.action,
          directory: e.directory ?? null,
          accountId: e.accountId ?? null,
          orderId: e.orderId ?? null,
          certificateId: e.certificateId ?? null,
          serialHex: e.serialHex ?? null,
          detail: e.detail ?? {},
        });
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message, action: e.action }, 'could not write the audit trail');
      }
    }
    if (e.notify) await this.notify(e.notify, e, id, now);
  }

  private async notify(event: NotifyEvent, e: OpsEvent, id: string, now: Date): Promise<void> {
    const hooks = this.o.webhooks.filter((h) => h.events.includes(event));
    if (hooks.length === 0) return;
    const body = JSON.stringify({
      id,
      event,
      at: now.toISOString(),
      data: {
        ...(e.directory ? { directory: e.directory } : {}),
        ...(e.accountId ? { account: e.accountId } : {}),
        ...(e.orderId ? { order: e.orderId } : {}),
        ...(e.serialHex ? { serial: e.serialHex } : {}),
        ...(e.detail ?? {}),
      },
    });
    let queued = 0;
    for (const [i, hook] of hooks.entries()) {
      const job = this.o.jobs.newJob('notify', now);
      const payload: NotifyPayload = { url: hook.url, event, body };
      try {
        // The subject deduplicates: one delivery per event (or per notifyKey) and webhook.
        const subjectId = `${i}:${hook.url}:${e.notifyKey ?? id}`;
        if (await this.o.store.notifications.enqueue({ ...job, subjectId, payload: JSON.stringify(payload) }, now.getTime())) queued++;
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message, event, webhook: hook.url }, 'could not queue a webhook delivery');
      }
    }
    if (queued) this.o.jobs.kick();
  }
}
