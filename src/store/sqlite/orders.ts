import {
  AUTHZ_DEACTIVATE,
  AUTHZ_FAILED,
  AUTHZ_VALIDATED,
  CHALLENGE_FAILED,
  CHALLENGE_START,
  CHALLENGE_VALIDATED,
  ORDER_FAIL,
  ORDER_FINALIZE,
  ORDER_ISSUED,
  orderOnAuthorizationDeactivated,
  orderOnAuthorizationInvalid,
  newAuthorizationStatus,
  orderOnAuthorizationValid,
  orderStatusFromAuthorizations,
  type OrderChange,
} from '../../acme/status.js';
import type { Authorization, AuthorizationStatus, Order, OrderStatus } from '../../acme/types.js';
import { decodeOrderCursor, encodeOrderCursor, rowToAuthorization, rowToChallenge, rowToOrder } from '../rows.js';
import type { OrderPage, Store } from '../types.js';
import { BOUND_LIMIT, moveStatus, statusIn, statusLiteral, type Db } from './db.js';
import { certificateIdBySerial, claimOrphan, insertCertificate, markReplaced } from './certificates.js';
import { finishAttempt } from './issuance.js';
import { closeLiveJobs, insertJob } from './jobs.js';
import { recordPreauthorization } from './preauthorizations.js';
import { checkPendingOrders, checkRunningValidations, countEvent, takeSlot } from './rate-limits.js';

// The order aggregate: orders, their authorizations and the authorizations' challenges (RFC 8555
// §7.1.3–§7.1.5), which change together. Which status a row moves to, and from which, is decided by
// acme/status.ts; the SQL here applies it as a conditional write.

export function readAuthorization(db: Db, id: string): Authorization | null {
  const r = db.one('SELECT * FROM authorizations WHERE id = ?', id);
  if (!r) return null;
  const challenges = db.all('SELECT * FROM challenges WHERE authz_id = ? ORDER BY created_at, rowid', id).map(rowToChallenge);
  return rowToAuthorization(r, challenges);
}

function readOrder(db: Db, id: string): Order | null {
  const r = db.one('SELECT * FROM orders WHERE id = ?', id);
  if (!r) return null;
  const authzIds = db.all('SELECT authz_id FROM order_authorizations WHERE order_id = ? ORDER BY position', id).map((a) => a.authz_id as string);
  return rowToOrder(r, authzIds);
}

/**
 * After an authorization changed (inside the caller's transaction): for each of its orders, reads
 * the order's status and the statuses of all its authorizations, asks the domain what the order
 * becomes, and writes that conditionally on the status it read. The IMMEDIATE transaction makes
 * the read current; a store whose transactions do not serialize writers (PostgreSQL under READ
 * COMMITTED) must lock the order rows first (SELECT … FOR UPDATE), or the last two authorizations
 * of an order validated at once could each see the other still pending and leave the order pending.
 */
function cascadeToOrders(
  db: Db,
  authzId: string,
  decide: (orderStatus: OrderStatus, authzStatuses: AuthorizationStatus[]) => OrderChange | null,
  nowMs: number,
): void {
  const orders = db.all('SELECT o.id, o.status FROM order_authorizations oa JOIN orders o ON o.id = oa.order_id WHERE oa.authz_id = ?', authzId);
  for (const o of orders) {
    const authzStatuses = db
      .all('SELECT az.status FROM order_authorizations oa JOIN authorizations az ON az.id = oa.authz_id WHERE oa.order_id = ?', o.id)
      .map((r) => r.status as AuthorizationStatus);
    const change = decide(o.status as OrderStatus, authzStatuses);
    if (!change) continue;
    db.run(
      `UPDATE orders SET status = ?, error_json = ?, updated_at = ? WHERE id = ? AND status = ${statusLiteral(o.status as string)}`,
      change.status,
      change.error ? JSON.stringify(change.error) : null,
      nowMs,
      o.id,
    );
  }
}

export function sqliteOrders(db: Db): Store['orders'] {
  return {
    createWithAuthorizations: async (o) =>
      db.tx(() => {
        const now = o.now.getTime();
        // Rate limits first, in this write (RFC 8555 §6.6): a refused order writes nothing.
        checkPendingOrders(db, o.accountId, o.limits?.pendingOrders, now);
        takeSlot(db, o.limits?.newOrders, now);
        const authzStatus = o.authorizations.map((a) => newAuthorizationStatus(!!a.preauthorized));
        db.run(
          `INSERT INTO orders (id, directory, account_id, status, identifiers_json, not_before, not_after, profile, replaces,
             replaces_certificate_id, eab_key_id, expires_at, created_at, updated_at, seq)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM orders))`,
          o.id,
          o.directory,
          o.accountId,
          orderStatusFromAuthorizations(authzStatus),
          JSON.stringify(o.identifiers),
          o.notBefore?.getTime() ?? null,
          o.notAfter?.getTime() ?? null,
          o.profile,
          o.replaces,
          o.replacesCertificateId ?? null,
          o.eabKeyId ?? null,
          o.expires.getTime(),
          now,
          now,
        );
        o.authorizations.forEach((a, position) => {
          db.run(
            `INSERT INTO authorizations (id, directory, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            a.id,
            o.directory,
            o.accountId,
            a.identifier.type,
            a.identifier.value,
            a.wildcard ? 1 : 0,
            authzStatus[position],
            a.expires.getTime(),
            now,
            now,
          );
          db.run('INSERT INTO order_authorizations (order_id, authz_id, position) VALUES (?, ?, ?)', o.id, a.id, position);
          if (a.preauthorized) {
            const { eabKeyId, scope } = a.preauthorized;
            recordPreauthorization(db, { eabKeyId, scope, directory: o.directory, accountId: o.accountId, orderId: o.id, authzId: a.id, identifier: a.identifier, wildcard: a.wildcard }, now);
          }
          for (const c of a.challenges) {
            db.run(
              `INSERT INTO challenges (id, authz_id, type, token, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
              c.id,
              a.id,
              c.type,
              c.token,
              now,
              now,
            );
          }
        });
        return readOrder(db, o.id)!;
      }),
    get: async (id) => readOrder(db, id),
    listForAccount: async (accountId, cursor, limit): Promise<OrderPage> => {
      // Keyset pagination on the creation sequence: stable while new orders arrive.
      const afterSeq = cursor ? decodeOrderCursor(cursor) : 0;
      const rows = db.all(`SELECT id, seq FROM orders WHERE account_id = ? AND seq > ? ORDER BY seq ${BOUND_LIMIT}`, accountId, afterSeq, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        orderIds: page.map((r) => r.id as string),
        next: rows.length > limit && last ? encodeOrderCursor(last.seq as number) : null,
      };
    },
    markProcessing: async (orderId, csr, job, now) =>
      db.tx(() => {
        const n = db.run(
          `UPDATE orders SET status = ?, csr_der = ?, csr_spki_sha256 = ?, updated_at = ? WHERE id = ? AND ${statusIn(ORDER_FINALIZE)}`,
          ORDER_FINALIZE.to,
          csr.der,
          csr.spkiSha256,
          now.getTime(),
          orderId,
        );
        if (n !== 1) return false;
        insertJob(db, 'issue', orderId, job, now.getTime());
        return true;
      }),
    completeIssuance: async (orderId, attemptId, cert, now) =>
      db.tx(() => {
        const order = db.one('SELECT directory, account_id, replaces_certificate_id FROM orders WHERE id = ?', orderId);
        if (!order) return false;
        const nowMs = now.getTime();
        const directory = order.directory as string;
        const accountId = order.account_id as string;
        // The serial may already be on record (kept as an orphan by an earlier reconciliation): then
        // that row is the certificate, claimed for this order.
        const known = certificateIdBySerial(db, cert.serialHex);
        const certId = known ?? cert.id;
        const n = db.run(
          `UPDATE orders SET status = ?, certificate_id = ?, updated_at = ? WHERE id = ? AND ${statusIn(ORDER_ISSUED)}`,
          ORDER_ISSUED.to,
          certId,
          nowMs,
          orderId,
        );
        if (n !== 1) {
          // The order settled some other way (e.g. another replica won): keep the certificate anyway,
          // unattached, so an issuance the PCA made is never lost.
          insertCertificate(db, cert, directory, orderId, accountId, nowMs);
          if (attemptId) finishAttempt(db, attemptId, 'issued', cert.pcaSerial, 'order already settled', nowMs);
          return false;
        }
        insertCertificate(db, cert, directory, orderId, accountId, nowMs);
        if (known) claimOrphan(db, certId, orderId, accountId);
        if (order.replaces_certificate_id) markReplaced(db, order.replaces_certificate_id as string, orderId);
        if (attemptId) finishAttempt(db, attemptId, 'issued', cert.pcaSerial, null, nowMs);
        closeLiveJobs(db, 'issue', orderId, 'done', null, nowMs);
        return true;
      }),
    fail: async (orderId, error, now) =>
      db.tx(() => {
        const nowMs = now.getTime();
        const n = db.run(
          `UPDATE orders SET status = ?, error_json = ?, updated_at = ? WHERE id = ? AND ${statusIn(ORDER_FAIL)}`,
          ORDER_FAIL.to,
          JSON.stringify(error),
          nowMs,
          orderId,
        );
        closeLiveJobs(db, 'issue', orderId, 'failed', error.detail, nowMs);
        return n === 1;
      }),
    listProcessingWithoutLiveJob: async () =>
      db
        .all(
          `SELECT o.id FROM orders o WHERE o.status = 'processing' AND NOT EXISTS (
             SELECT 1 FROM jobs j WHERE j.kind = 'issue' AND j.subject_id = o.id AND j.state IN ('queued', 'running'))`,
        )
        .map((r) => r.id as string),
    findReplacing: async (certificateId) => {
      const r = db.one("SELECT id FROM orders WHERE replaces_certificate_id = ? AND status <> 'invalid' LIMIT 1", certificateId);
      return (r?.id as string | undefined) ?? null;
    },
    getCsr: async (orderId) => {
      const r = db.one('SELECT csr_der FROM orders WHERE id = ?', orderId);
      return (r?.csr_der as Buffer | null | undefined) ?? null;
    },
  };
}

export function sqliteAuthorizations(db: Db): Store['authorizations'] {
  return {
    get: async (id) => readAuthorization(db, id),
    getMany: async (ids) => ids.map((id) => readAuthorization(db, id)).filter((a): a is Authorization => a !== null),
    deactivate: async (id, now) =>
      db.tx(() => {
        const nowMs = now.getTime();
        if (!moveStatus(db, 'authorizations', AUTHZ_DEACTIVATE, id, nowMs)) return null;
        cascadeToOrders(db, id, orderOnAuthorizationDeactivated, nowMs);
        return readAuthorization(db, id);
      }),
  };
}

export function sqliteChallenges(db: Db): Store['challenges'] {
  return {
    get: async (id) => {
      const r = db.one('SELECT * FROM challenges WHERE id = ?', id);
      if (!r) return null;
      const authz = readAuthorization(db, r.authz_id as string);
      return authz ? { challenge: rowToChallenge(r), authz } : null;
    },
    start: async (challengeId, job, now, limit) =>
      db.tx(() => {
        const nowMs = now.getTime();
        checkRunningValidations(db, challengeId, limit);
        // RFC 8555 §7.5.1: only a pending challenge of an unexpired authorization that a validation
        // can still move can be started, and only one challenge of an authorization is validated at a time.
        // EXISTS on the authorization's id, not `authz_id IN (SELECT id …)`: SQLite ran that subquery as a
        // scan of every authorization (test/unit/query-plans.test.ts).
        const n = db.run(
          `UPDATE challenges SET status = ?, updated_at = ?
           WHERE id = ? AND ${statusIn(CHALLENGE_START)}
             AND EXISTS (SELECT 1 FROM authorizations a WHERE a.id = challenges.authz_id AND ${statusIn(AUTHZ_VALIDATED, 'a.status')} AND a.expires_at > ?)
             AND NOT EXISTS (SELECT 1 FROM challenges c2 WHERE c2.authz_id = challenges.authz_id AND c2.status = ${statusLiteral(CHALLENGE_START.to)})`,
          CHALLENGE_START.to,
          nowMs,
          challengeId,
          nowMs,
        );
        if (n !== 1) return false;
        insertJob(db, 'validate', challengeId, job, nowMs);
        return true;
      }),
    recordValidation: async (result) =>
      db.tx(() => {
        const nowMs = result.now.getTime();
        const ch = db.one('SELECT authz_id FROM challenges WHERE id = ?', result.challengeId);
        if (!ch) return false;
        const challenge = result.valid ? CHALLENGE_VALIDATED : CHALLENGE_FAILED;
        const n = db.run(
          `UPDATE challenges SET status = ?, validated_at = ?, error_json = ?, record_json = ?, updated_at = ?
           WHERE id = ? AND ${statusIn(challenge)}`,
          challenge.to,
          result.valid ? nowMs : null,
          result.error ? JSON.stringify(result.error) : null,
          JSON.stringify(result.record ?? null),
          nowMs,
          result.challengeId,
        );
        closeLiveJobs(db, 'validate', result.challengeId, n === 1 ? 'done' : 'failed', result.error?.detail ?? null, nowMs);
        if (n !== 1) return false;
        // failedValidationsPerIdentifier: a failure counts in the write that records it, exactly once.
        if (!result.valid && result.countFailure) countEvent(db, 'failedValidationsPerIdentifier', result.countFailure.subject, nowMs, result.countFailure.windowMs);
        const authzId = ch.authz_id as string;
        if (!moveStatus(db, 'authorizations', result.valid ? AUTHZ_VALIDATED : AUTHZ_FAILED, authzId, nowMs)) return true;
        // In the same transaction, so an order is ready in the same write as its last valid
        // authorization (interop item 21).
        cascadeToOrders(
          db,
          authzId,
          result.valid ? orderOnAuthorizationValid : (status, statuses) => orderOnAuthorizationInvalid(status, statuses, result.error),
          nowMs,
        );
        return true;
      }),
    listProcessingWithoutLiveJob: async () =>
      db
        .all(
          `SELECT c.id FROM challenges c WHERE c.status = 'processing' AND NOT EXISTS (
             SELECT 1 FROM jobs j WHERE j.kind = 'validate' AND j.subject_id = c.id AND j.state IN ('queued', 'running'))`,
        )
        .map((r) => r.id as string),
  };
}
