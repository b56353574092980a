import { X509Certificate } from 'node:crypto';
import { normalizeSerialHex } from '../acme/issued-check.js';
import { isRenewed } from '../acme/ops-events.js';
import type { Account, Order, OrderStatus } from '../acme/types.js';
import type { Clock } from '../platform/clock.js';
import type { OpsSnapshot } from '../platform/metrics.js';
import type { AuditEvent, AuditFilter, CertificateRow } from '../store/ops-types.js';
import type { Store } from '../store/types.js';
import { problemInWords } from './problem-words.js';
import { buildTimeline, type TimelineEntry } from './timeline.js';

// The admin side's read model: one set of views over the store for the admin API, the console and
// the admin commands (`accounts`, `orders`, `certs`, `audit`), so the shell and the browser show the
// same thing. The JSON field names here are what `--json` prints and scripts rely on.

const DAY_MS = 86_400_000;

export interface AccountView {
  id: string;
  directory: string;
  status: Account['status'];
  contact: string[];
  eabKeyId: string | null;
  createdAt: string;
  orders?: number;
  certificates?: number;
}

export interface OrderView {
  id: string;
  directory: string;
  account: string;
  status: OrderStatus;
  names: string[];
  createdAt: string;
  updatedAt: string;
  expires: string;
  certificate: string | null;
  problem: Order['error'];
  /** The problem in plain words (failed orders). */
  explanation?: string;
}

export interface OrderDetail extends OrderView {
  timeline: TimelineEntry[];
}

export interface CertificateView {
  id: string;
  serial: string;
  names: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  status: 'valid' | 'revoked' | 'expired';
  account: string | null;
  order: string | null;
  directory: string;
  renewed: boolean;
  revokedAt: string | null;
  revocationReason: number | null;
}

export interface CertificateQuery {
  accountId?: string;
  name?: string;
  expiringWithinMs?: number;
  /** Only certificates nobody renewed (with expiringWithinMs: the ones to chase). */
  notRenewed?: boolean;
  limit?: number;
}

export const toAccountView = (a: Account & { orders?: number; certificates?: number }): AccountView => ({
  id: a.id,
  directory: a.directory,
  status: a.status,
  contact: a.contact,
  eabKeyId: a.eabKeyId,
  createdAt: a.createdAt.toISOString(),
  ...(a.orders !== undefined ? { orders: a.orders } : {}),
  ...(a.certificates !== undefined ? { certificates: a.certificates } : {}),
});

export function toOrderView(o: Order, certificateSerial: string | null = null): OrderView {
  return {
    id: o.id,
    directory: o.directory,
    account: o.accountId,
    status: o.status,
    names: o.identifiers.map((i) => i.value),
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    expires: o.expires.toISOString(),
    certificate: certificateSerial ?? o.certificateId,
    problem: o.error,
    ...(o.status === 'invalid' ? { explanation: problemInWords(o.error) } : {}),
  };
}

/** The names a certificate covers: its order's identifiers, or (an orphan) the leaf's subjectAltName. */
function namesOf(c: CertificateRow): string[] {
  if (c.orderIdentifiers.length) return c.orderIdentifiers.map((i) => i.value);
  try {
    return (new X509Certificate(c.leafPem).subjectAltName ?? '').split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, ''));
  } catch {
    return [];
  }
}

export class AdminReadModel {
  constructor(private readonly o: { store: Store; clock: Clock }) {}

  async accounts(filter: { status?: Account['status']; limit?: number } = {}): Promise<AccountView[]> {
    return (await this.o.store.reports.listAccounts({ limit: filter.limit ?? 100, ...(filter.status ? { status: filter.status } : {}) })).map(toAccountView);
  }

  async account(id: string): Promise<(AccountView & { recentOrders: OrderView[] }) | null> {
    const a = await this.o.store.accounts.get(id);
    if (!a) return null;
    const orders = await this.o.store.reports.listOrders({ accountId: id, limit: 20 });
    const [summary] = await this.o.store.reports.listAccounts({ id, limit: 1 });
    return { ...toAccountView({ ...a, ...(summary ? { orders: summary.orders, certificates: summary.certificates } : {}) }), recentOrders: orders.map((x) => toOrderView(x)) };
  }

  async orders(filter: { status?: OrderStatus; accountId?: string; name?: string; sinceMs?: number; limit?: number } = {}): Promise<OrderView[]> {
    const { limit, ...rest } = filter;
    const orders = await this.o.store.reports.listOrders({ limit: limit ?? 50, ...stripUndefined(rest) });
    return Promise.all(orders.map(async (o) => toOrderView(o, await this.serialOf(o))));
  }

  async order(id: string): Promise<OrderDetail | null> {
    const order = await this.o.store.orders.get(id);
    if (!order) return null;
    const [authorizations, attempts, certificate, audit] = await Promise.all([
      this.o.store.reports.authorizationHistory(id),
      this.o.store.issuance.attemptsForOrder(id),
      order.certificateId ? this.o.store.certificates.get(order.certificateId) : Promise.resolve(null),
      this.o.store.audit.list({ orderId: id, limit: 1000 }),
    ]);
    return { ...toOrderView(order, certificate?.serialHex ?? null), timeline: buildTimeline({ order, authorizations, attempts, certificate, audit }) };
  }

  async certificates(q: CertificateQuery = {}): Promise<CertificateView[]> {
    const now = this.o.clock.nowMs();
    const rows = await this.o.store.reports.listCertificates({
      limit: q.limit ?? 100,
      ...(q.accountId ? { accountId: q.accountId } : {}),
      ...(q.name ? { name: q.name } : {}),
      ...(q.expiringWithinMs !== undefined ? { nowMs: now, expiringBeforeMs: now + q.expiringWithinMs } : {}),
    });
    const later = rows.length ? await this.o.store.reports.certificatesIssuedSince(Math.min(...rows.map((r) => r.createdAt.getTime()))) : [];
    const views = rows.map((r) => this.certificateView(r, isRenewed(r, later), now));
    return q.notRenewed ? views.filter((v) => !v.renewed && v.status === 'valid') : views;
  }

  /** By serial (hex, any case, colons allowed) or by certificate id. */
  async certificate(serialOrId: string): Promise<CertificateView | null> {
    const bySerial = /^[0-9a-fA-F:]+$/.test(serialOrId) ? await this.o.store.certificates.getBySerial(normalizeSerialHex(serialOrId)) : null;
    const cert = bySerial ?? (await this.o.store.certificates.get(serialOrId));
    if (!cert) return null;
    const order = cert.orderId ? await this.o.store.orders.get(cert.orderId) : null;
    const row: CertificateRow = { ...cert, orderIdentifiers: order?.identifiers ?? [] };
    const later = await this.o.store.reports.certificatesIssuedSince(cert.createdAt.getTime());
    return this.certificateView(row, isRenewed(row, later), this.o.clock.nowMs());
  }

  audit(filter: Partial<AuditFilter> = {}): Promise<AuditEvent[]> {
    return this.o.store.audit.list({ limit: 1000, ...filter });
  }

  /** Certificates issued and orders failed per day over the last `days` days (zeros filled in). */
  async daily(days = 30): Promise<Array<{ day: string; issued: number; failed: number }>> {
    const today = Math.floor(this.o.clock.nowMs() / DAY_MS);
    const counts = new Map((await this.o.store.reports.dailyCounts((today - days + 1) * DAY_MS)).map((c) => [c.day, c]));
    return Array.from({ length: days }, (_, i) => {
      const day = today - days + 1 + i;
      return { day: new Date(day * DAY_MS).toISOString().slice(0, 10), issued: counts.get(day)?.issued ?? 0, failed: counts.get(day)?.failed ?? 0 };
    });
  }

  /** What /metrics reads from the database (platform/metrics.ts gauges). */
  async snapshot(): Promise<OpsSnapshot> {
    const g = await this.o.store.reports.gauges();
    const expiring = await this.certificates({ expiringWithinMs: 30 * DAY_MS, notRenewed: true, limit: 100_000 });
    return {
      atMs: this.o.clock.nowMs(),
      ordersByStatus: g.ordersByStatus,
      jobs: g.jobs,
      expiringWithin7d: expiring.filter((c) => c.daysLeft < 7).length,
      expiringWithin30d: expiring.length,
    };
  }

  private async serialOf(o: Order): Promise<string | null> {
    return o.certificateId ? ((await this.o.store.certificates.get(o.certificateId))?.serialHex ?? null) : null;
  }

  private certificateView(r: CertificateRow, renewed: boolean, nowMs: number): CertificateView {
    const expired = r.status === 'valid' && r.notAfter.getTime() < nowMs;
    return {
      id: r.id,
      serial: r.serialHex,
      names: namesOf(r),
      notBefore: r.notBefore.toISOString(),
      notAfter: r.notAfter.toISOString(),
      daysLeft: Math.floor((r.notAfter.getTime() - nowMs) / DAY_MS),
      status: expired ? 'expired' : r.status,
      account: r.accountId ?? null,
      order: r.orderId ?? null,
      directory: r.directory,
      renewed,
      revokedAt: r.revokedAt?.toISOString() ?? null,
      revocationReason: r.revocationReason,
    };
  }
}

function stripUndefined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
