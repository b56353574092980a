import type { Identifier } from './types.js';

// What the gateway tells its operators: every event goes to the audit trail, and those a webhook can
// subscribe to (`notify`) to the webhooks that asked for them. Declared here, in the domain, because
// the use cases (services/), the background work (jobs/) and the admin side (admin/) all emit them;
// services/ops-events.ts implements the sink.

export type AuditActorKind = 'account' | 'admin' | 'cli' | 'system';

/** The webhook events (config/ops-schema.ts WEBHOOK_EVENTS lists the same names). */
export type NotifyEvent = 'certificate.issued' | 'certificate.revoked' | 'order.failed' | 'certificate.expiring';

export interface OpsEvent {
  /** account.created, eab.used, account.deactivated, certificate.issued, certificate.revoked, order.refused, order.failed, admin.… */
  action: string;
  /** Default: the account when accountId is set and the event comes from a request, the system otherwise. */
  actor?: { kind: AuditActorKind; name: string | null };
  eabKeyId?: string | null;
  directory?: string | null;
  accountId?: string | null;
  orderId?: string | null;
  certificateId?: string | null;
  serialHex?: string | null;
  detail?: Record<string, unknown>;
  /** Also deliver to the webhooks subscribed to this event. */
  notify?: NotifyEvent;
  /** Webhook deliveries with the same key are sent once (e.g. one expiry notice per certificate). */
  notifyKey?: string;
  /** false: a notification only, not an audit row (the expiry notices). */
  audit?: boolean;
}

/** Records events; never throws, so that an audit or webhook problem never fails the work it describes. */
export interface OpsEventSink {
  record(event: OpsEvent): Promise<void>;
}

/** A sink that drops everything (tests and tools that have no audit trail). */
export const noOpsEvents: OpsEventSink = { record: async () => undefined };

/**
 * Whether a certificate was renewed: a later valid certificate covers every one of its names
 * (case-insensitive), or an order that names it in `replaces` (RFC 9773) completed.
 */
export function isRenewed(
  cert: { createdAt: Date; replacedByOrderId: string | null; orderIdentifiers: Identifier[] },
  later: ReadonlyArray<{ createdAt: Date; orderIdentifiers: Identifier[] }>,
): boolean {
  if (cert.replacedByOrderId) return true;
  const names = cert.orderIdentifiers.map((i) => i.value.toLowerCase());
  if (names.length === 0) return false;
  return later.some((l) => {
    if (l.createdAt <= cert.createdAt) return false;
    const covered = new Set(l.orderIdentifiers.map((i) => i.value.toLowerCase()));
    return names.every((n) => covered.has(n));
  });
}
