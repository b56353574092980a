import { z } from 'zod';

// Configuration of the operations side (issue 13): the admin listener and webhook notifications.
// schema.ts composes these into the gateway's configuration.

/** The events a webhook may subscribe to (and the `event` member of every delivery). */
export const WEBHOOK_EVENTS = ['certificate.issued', 'certificate.revoked', 'order.failed', 'certificate.expiring'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const listenAddress = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:14002"');

/**
 * The admin listener: /livez and /readyz for probes, and behind a bearer token /metrics, the console
 * at / and the admin API under /api/. Loopback by default: the ACME port serves ACME only.
 * The token comes from ACME_ADMIN_TOKEN (config/load.ts puts it in `token`), else from tokenFile,
 * which is created (0600) at the first start when it does not exist.
 */
export const adminSchema = z
  .object({
    listen: listenAddress.default('127.0.0.1:14002'),
    /** Default: admin.token beside the database (./data/admin.token). */
    tokenFile: z.string().min(1).optional(),
    token: z.string().min(16, 'the admin token must be at least 16 characters').optional(),
    /** Who the audit trail names for actions taken with this token. */
    tokenName: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/).default('admin'),
  })
  .strict()
  .prefault({});

const webhookSchema = z
  .object({
    url: z.url().refine((u) => /^https?:/.test(u), 'expected an http:// or https:// URL'),
    /** The HMAC-SHA256 key, read from secretFile by config/load.ts (or given inline, for tests). */
    secret: z.string().min(16, 'the webhook secret must be at least 16 characters'),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).default([...WEBHOOK_EVENTS]),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .strict();

export const notificationsSchema = z
  .object({
    webhooks: z.array(webhookSchema).default([]),
    /** A valid certificate not renewed this many days before its notAfter is announced once. */
    expiringWithinDays: z.number().int().min(1).max(365).default(14),
    /** How often the expiry scan runs (0 = never). */
    expiryScanIntervalMs: z.number().int().min(0).default(3_600_000),
  })
  .strict()
  .prefault({});

export type AdminConfig = z.infer<typeof adminSchema>;
export type NotificationsConfig = z.infer<typeof notificationsSchema>;
