import type { ProblemDocument } from '../acme/problems.js';
import type { Account, AuthorizationStatus, Certificate, ChallengeStatus, ChallengeType, Identifier, Order, OrderStatus } from '../acme/types.js';
import type { JobKind } from './types.js';

// The operations side of the Store (issue 13): the audit trail, the read model the admin listener,
// the console and the admin commands query, webhook deliveries on the job queue, and bounded pruning.
// Kept apart from store/types.ts so the ACME intents stay readable; Store extends OpsStore.

export type AuditActor = 'account' | 'admin' | 'cli' | 'system';

export interface NewAuditEvent {
  id: string;
  at: Date;
  actor: AuditActor;
  /** The account id, the admin token's name, the CLI user, or the component. */
  actorName: string | null;
  clientIp: string | null;
  eabKeyId: string | null;
  /** What happened: account.created, certificate.issued, order.refused, admin.certificate.revoke, … */
  action: string;
  directory: string | null;
  accountId: string | null;
  orderId: string | null;
  certificateId: string | null;
  serialHex: string | null;
  detail: Record<string, unknown>;
}

export type AuditEvent = NewAuditEvent;

export interface AuditFilter {
  sinceMs?: number;
  untilMs?: number;
  action?: string;
  orderId?: string;
  accountId?: string;
  /** Events after this one (its time and id), for paging an export. */
  after?: { atMs: number; id: string };
  limit: number;
}

export interface AccountSummary extends Account {
  orders: number;
  certificates: number;
}

export interface OrderFilter {
  status?: OrderStatus;
  accountId?: string;
  /** An identifier value of the order (case-insensitive, exact). */
  name?: string;
  sinceMs?: number;
  limit: number;
}

export interface CertificateFilter {
  accountId?: string;
  name?: string;
  status?: Certificate['status'];
  /** Valid and not after this time (still valid now: notAfter >= nowMs). */
  expiringBeforeMs?: number;
  nowMs?: number;
  limit: number;
}

/** A certificate with the identifiers of the order it was issued for ([] for an orphan). */
export interface CertificateRow extends Certificate {
  orderIdentifiers: Identifier[];
}

/** An authorization of an order with every challenge and when each moved, for the timeline. */
export interface AuthorizationHistory {
  id: string;
  identifier: Identifier;
  wildcard: boolean;
  status: AuthorizationStatus;
  createdAt: Date;
  updatedAt: Date;
  challenges: Array<{
    id: string;
    type: ChallengeType;
    status: ChallengeStatus;
    createdAt: Date;
    updatedAt: Date;
    validatedAt: Date | null;
    error: ProblemDocument | null;
    record: unknown;
  }>;
}

export interface DailyCount {
  /** Days since the epoch (UTC). */
  day: number;
  issued: number;
  failed: number;
}

export interface OpsGauges {
  ordersByStatus: Partial<Record<OrderStatus, number>>;
  /** Queued or running jobs per kind and the run time of the oldest queued one. */
  jobs: Array<{ kind: JobKind; depth: number; oldestQueuedRunAt: number | null }>;
}

export interface NotifyJob {
  id: string;
  /** Deduplicates: a second job with the same subject is not queued (e.g. one expiry warning per certificate and webhook). */
  subjectId: string;
  payload: string;
  runAt: number;
  deadlineAt: number;
}

export type PrunableKind = 'nonces' | 'jobs';

export interface OpsStore {
  audit: {
    append(event: NewAuditEvent): Promise<void>;
    /** Oldest first. */
    list(filter: AuditFilter): Promise<AuditEvent[]>;
  };
  reports: {
    listAccounts(filter: { status?: Account['status']; id?: string; limit: number }): Promise<AccountSummary[]>;
    /** Newest first. */
    listOrders(filter: OrderFilter): Promise<Order[]>;
    authorizationHistory(orderId: string): Promise<AuthorizationHistory[]>;
    /** Soonest expiry first with expiringBeforeMs, newest first otherwise. */
    listCertificates(filter: CertificateFilter): Promise<CertificateRow[]>;
    /** Valid certificates created after sinceMs, with their order's identifiers (renewal checks). */
    certificatesIssuedSince(sinceMs: number): Promise<Array<{ id: string; createdAt: Date; orderIdentifiers: Identifier[] }>>;
    /** Certificates issued and orders that ended invalid, per UTC day since sinceMs. */
    dailyCounts(sinceMs: number): Promise<DailyCount[]>;
    gauges(): Promise<OpsGauges>;
    /** The orders an authorization belongs to. */
    ordersOfAuthorization(authzId: string): Promise<string[]>;
  };
  notifications: {
    /** Queues a notify job unless one with the same subject exists; false when it did. */
    enqueue(job: NotifyJob, nowMs: number): Promise<boolean>;
  };
  maintenance: {
    /** Deletes at most `limit` rows of the kind older than beforeMs; returns how many. */
    pruneBatch(kind: PrunableKind, beforeMs: number, limit: number): Promise<number>;
    /** How many rows pruneBatch would delete in all (for a progress bar). */
    countPrunable(kind: PrunableKind, beforeMs: number): Promise<number>;
  };
}
