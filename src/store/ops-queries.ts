import type { Identifier } from '../acme/types.js';
import type { AccountSummary, AuditEvent, AuthorizationHistory, CertificateRow, OpsStore } from './ops-types.js';
import { dateOrNull, json, problemOrNull, rowToAccount, rowToCertificate, rowToOrder, textOrNull, type Row } from './rows.js';
import type { JobKind } from './types.js';

// The SQL of the operations intents (store/ops-types.ts), written once for both stores: the SQLite
// and the PostgreSQL schemas have the same tables and columns, both stores take `?` placeholders,
// and every statement here is portable (CAST instead of ::, GROUP BY 1, LIKE on LOWER(), integer
// division of BIGINT/INTEGER epoch-ms times). Each intent is one statement, or reads only, so no
// transaction is needed and the same async code runs over better-sqlite3 (wrapped) and the pg pool.

/** What the intents need of a database: the shape of PgDb, and of the SQLite Db once wrapped. */
export interface OpsQueries {
  one(sql: string, ...params: unknown[]): Promise<Row | undefined>;
  all(sql: string, ...params: unknown[]): Promise<Row[]>;
  run(sql: string, ...params: unknown[]): Promise<number>;
}

const DAY_MS = 86_400_000;

/** A LIKE pattern that finds `"value":"<name>"` in identifiers_json, with %, _ and \ escaped. */
function identifierPattern(name: string): string {
  const needle = `"value":${JSON.stringify(name.toLowerCase())}`;
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
const NAME_MATCH = (column: string) => `LOWER(${column}) LIKE ? ESCAPE '\\'`;

/** WHERE clause from the conditions that apply, and their parameters in order. */
function where(conds: Array<[string, ...unknown[]] | false | undefined>): { sql: string; params: unknown[] } {
  const on = conds.filter((c): c is [string, ...unknown[]] => Array.isArray(c));
  return { sql: on.length ? `WHERE ${on.map((c) => c[0]).join(' AND ')}` : '', params: on.flatMap((c) => c.slice(1)) };
}

function rowToAudit(r: Row): AuditEvent {
  return {
    id: r.id as string,
    at: new Date(r.at as number),
    actor: r.actor as AuditEvent['actor'],
    actorName: textOrNull(r.actor_name),
    clientIp: textOrNull(r.client_ip),
    eabKeyId: textOrNull(r.eab_key_id),
    action: r.action as string,
    directory: textOrNull(r.directory),
    accountId: textOrNull(r.account_id),
    orderId: textOrNull(r.order_id),
    certificateId: textOrNull(r.certificate_id),
    serialHex: textOrNull(r.serial_hex),
    detail: json(r.detail_json),
  };
}

function rowToCertificateRow(r: Row): CertificateRow {
  return { ...rowToCertificate(r), orderIdentifiers: r.order_identifiers_json ? json<Identifier[]>(r.order_identifiers_json) : [] };
}

export function opsIntents(q: OpsQueries): OpsStore {
  return {
    audit: {
      append: async (e) => {
        await q.run(
          `INSERT INTO audit_events (id, at, actor, actor_name, client_ip, eab_key_id, action, directory, account_id, order_id, certificate_id, serial_hex, detail_json)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          e.id,
          e.at.getTime(),
          e.actor,
          e.actorName,
          e.clientIp,
          e.eabKeyId,
          e.action,
          e.directory,
          e.accountId,
          e.orderId,
          e.certificateId,
          e.serialHex,
          JSON.stringify(e.detail),
        );
      },
      list: async (f) => {
        const w = where([
          f.sinceMs !== undefined && ['at >= ?', f.sinceMs],
          f.untilMs !== undefined && ['at < ?', f.untilMs],
          f.action !== undefined && ['action = ?', f.action],
          f.orderId !== undefined && ['order_id = ?', f.orderId],
          f.accountId !== undefined && ['account_id = ?', f.accountId],
          f.after !== undefined && ['(at > ? OR (at = ? AND id > ?))', f.after.atMs, f.after.atMs, f.after.id],
        ]);
        return (await q.all(`SELECT * FROM audit_events ${w.sql} ORDER BY at, id LIMIT ?`, ...w.params, f.limit)).map(rowToAudit);
      },
    },
    reports: {
      listAccounts: async (f) => {
        const w = where([f.status !== undefined && ['a.status = ?', f.status], f.id !== undefined && ['a.id = ?', f.id]]);
        const rows = await q.all(
          `SELECT a.*,
             (SELECT COUNT(*) FROM orders o WHERE o.account_id = a.id) AS n_orders,
             (SELECT COUNT(*) FROM certificates c WHERE c.account_id = a.id) AS n_certificates
           FROM accounts a ${w.sql} ORDER BY a.created_at DESC, a.id LIMIT ?`,
          ...w.params,
          f.limit,
        );
        return rows.map((r): AccountSummary => ({ ...rowToAccount(r), orders: Number(r.n_orders), certificates: Number(r.n_certificates) }));
      },
      listOrders: async (f) => {
        const w = where([
          f.status !== undefined && ['status = ?', f.status],
          f.accountId !== undefined && ['account_id = ?', f.accountId],
          f.name !== undefined && [NAME_MATCH('identifiers_json'), identifierPattern(f.name)],
          f.sinceMs !== undefined && ['created_at >= ?', f.sinceMs],
        ]);
        const rows = await q.all(`SELECT * FROM orders ${w.sql} ORDER BY seq DESC LIMIT ?`, ...w.params, f.limit);
        if (rows.length === 0) return [];
        const ids = rows.map((r) => r.id as string);
        const links = await q.all(
          `SELECT order_id, authz_id FROM order_authorizations WHERE order_id IN (${ids.map(() => '?').join(', ')}) ORDER BY order_id, position`,
          ...ids,
        );
        const byOrder = new Map<string, string[]>();
        for (const l of links) byOrder.set(l.order_id as string, [...(byOrder.get(l.order_id as string) ?? []), l.authz_id as string]);
        return rows.map((r) => rowToOrder(r, byOrder.get(r.id as string) ?? []));
      },
      authorizationHistory: async (orderId) => {
        const authzs = await q.all(
          'SELECT a.* FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id WHERE oa.order_id = ? ORDER BY oa.position',
          orderId,
        );
        if (authzs.length === 0) return [];
        const ids = authzs.map((a) => a.id as string);
        const challenges = await q.all(`SELECT * FROM challenges WHERE authz_id IN (${ids.map(() => '?').join(', ')}) ORDER BY created_at, id`, ...ids);
        return authzs.map(
          (a): AuthorizationHistory => ({
            id: a.id as string,
            identifier: { type: a.identifier_type as Identifier['type'], value: a.identifier_value as string },
            wildcard: a.wildcard === 1 || a.wildcard === true,
            status: a.status as AuthorizationHistory['status'],
            createdAt: new Date(a.created_at as number),
            updatedAt: new Date(a.updated_at as number),
            challenges: challenges
              .filter((c) => c.authz_id === a.id)
              .map((c) => ({
                id: c.id as string,
                type: c.type as AuthorizationHistory['challenges'][number]['type'],
                status: c.status as AuthorizationHistory['challenges'][number]['status'],
                createdAt: new Date(c.created_at as number),
                updatedAt: new Date(c.updated_at as number),
                validatedAt: dateOrNull(c.validated_at),
                error: problemOrNull(c.error_json),
                record: c.record_json ? json(c.record_json) : null,
              })),
          }),
        );
      },
      listCertificates: async (f) => {
        const expiring = f.expiringBeforeMs !== undefined;
        const w = where([
          f.accountId !== undefined && ['c.account_id = ?', f.accountId],
          f.name !== undefined && [NAME_MATCH('o.identifiers_json'), identifierPattern(f.name)],
          f.status !== undefined && ['c.status = ?', f.status],
          expiring && ["c.status = 'valid' AND c.not_after >= ? AND c.not_after < ?", f.nowMs ?? 0, f.expiringBeforeMs],
        ]);
        const rows = await q.all(
          `SELECT c.*, o.identifiers_json AS order_identifiers_json FROM certificates c LEFT JOIN orders o ON o.id = c.order_id
           ${w.sql} ORDER BY ${expiring ? 'c.not_after, c.id' : 'c.created_at DESC, c.id'} LIMIT ?`,
          ...w.params,
          f.limit,
        );
        return rows.map(rowToCertificateRow);
      },
      certificatesIssuedSince: async (sinceMs) =>
        (
          await q.all(
            `SELECT c.id, c.created_at, o.identifiers_json FROM certificates c JOIN orders o ON o.id = c.order_id
             WHERE c.status = 'valid' AND c.created_at > ?`,
            sinceMs,
          )
        ).map((r) => ({ id: r.id as string, createdAt: new Date(r.created_at as number), orderIdentifiers: json<Identifier[]>(r.identifiers_json) })),
      dailyCounts: async (sinceMs) => {
        const issued = await q.all(
          `SELECT created_at / ${DAY_MS} AS day, COUNT(*) AS n FROM certificates WHERE created_at >= ? AND order_id IS NOT NULL GROUP BY 1`,
          sinceMs,
        );
        const failed = await q.all(`SELECT updated_at / ${DAY_MS} AS day, COUNT(*) AS n FROM orders WHERE status = 'invalid' AND updated_at >= ? GROUP BY 1`, sinceMs);
        const days = new Map<number, { issued: number; failed: number }>();
        for (const r of issued) days.set(Number(r.day), { issued: Number(r.n), failed: 0 });
        for (const r of failed) days.set(Number(r.day), { issued: days.get(Number(r.day))?.issued ?? 0, failed: Number(r.n) });
        return [...days.entries()].sort((a, b) => a[0] - b[0]).map(([day, n]) => ({ day, ...n }));
      },
      gauges: async () => {
        const orders = await q.all('SELECT status, COUNT(*) AS n FROM orders GROUP BY status');
        const jobs = await q.all(
          `SELECT kind, COUNT(*) AS n, MIN(CASE WHEN state = 'queued' THEN run_at END) AS oldest
           FROM jobs WHERE state IN ('queued', 'running') GROUP BY kind`,
        );
        return {
          ordersByStatus: Object.fromEntries(orders.map((r) => [r.status as string, Number(r.n)])),
          jobs: jobs.map((r) => ({ kind: r.kind as JobKind, depth: Number(r.n), oldestQueuedRunAt: r.oldest === null || r.oldest === undefined ? null : Number(r.oldest) })),
        };
      },
      ordersOfAuthorization: async (authzId) =>
        (await q.all('SELECT order_id FROM order_authorizations WHERE authz_id = ?', authzId)).map((r) => r.order_id as string),
    },
    notifications: {
      // One statement: the check and the insert cannot be split by another writer on SQLite; on
      // PostgreSQL the expiry scan that relies on it runs on one replica at a time (tryExclusive).
      enqueue: async (job, nowMs) =>
        (await q.run(
          `INSERT INTO jobs (id, kind, subject_id, state, attempts, run_at, deadline_at, created_at, updated_at, payload_json)
           SELECT CAST(? AS TEXT), 'notify', CAST(? AS TEXT), 'queued', 0, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT)
           WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = 'notify' AND subject_id = ?)`,
          job.id,
          job.subjectId,
          job.runAt,
          job.deadlineAt,
          nowMs,
          nowMs,
          job.payload,
          job.subjectId,
        )) === 1,
    },
    maintenance: {
      pruneBatch: async (kind, beforeMs, limit) =>
        kind === 'nonces'
          ? q.run('DELETE FROM used_nonces WHERE nonce IN (SELECT nonce FROM used_nonces WHERE expires_at < ? LIMIT ?)', beforeMs, limit)
          : q.run("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ? LIMIT ?)", beforeMs, limit),
      countPrunable: async (kind, beforeMs) =>
        Number(
          (kind === 'nonces'
            ? await q.one('SELECT COUNT(*) AS n FROM used_nonces WHERE expires_at < ?', beforeMs)
            : await q.one("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ?", beforeMs))!.n,
        ),
    },
  };
}
