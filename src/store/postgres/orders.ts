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
import { claimOrphan, insertCertificate, markReplaced } from './certificates.js';
import { moveStatus, statusIn, type PgDb, type Queries } from './db.js';
import { finishAttempt } from './issuance.js';
import { closeLiveJobs, insertJob } from './jobs.js';
import { recordPreauthorization } from './preauthorizations.js';
import { checkPendingOrders, checkRunningValidations, countEvent, reserveSlot } from './rate-limits.js';

// The order aggregate: orders, their authorizations and the authorizations' challenges (RFC 8555
// §7.1.3–§7.1.5), which change together. Which status a row moves to, and from which, is decided by
// acme/status.ts; the SQL here applies it as a conditional write, as the SQLite store does.
//
// SQLite serializes writers; here several replicas write at once, so intents that read before they
// decide lock what they decide on, always in one order — authorization, then challenge, then the
// authorization's orders — so that two intents on one authorization queue up instead of deadlocking.

export async function readAuthorization(q: Queries, id: string): Promise<Authorization | null> {
  const r = await q.one('SELECT * FROM authorizations WHERE id = ?', id);
  if (!r) return null;
  const challenges = (await q.all('SELECT * FROM challenges WHERE authz_id = ? ORDER BY seq', id)).map(rowToChallenge);
  return rowToAuthorization(r, challenges);
}

async function readOrder(q: Queries, id: string): Promise<Order | null> {
  const r = await q.one('SELECT * FROM orders WHERE id = ?', id);
  if (!r) return null;
  const authzIds = (await q.all('SELECT authz_id FROM order_authorizations WHERE order_id = ? ORDER BY position', id)).map((a) => a.authz_id as string);
  return rowToOrder(r, authzIds);
}

/** Locks the authorization of a challenge (the first lock of every challenge intent); its id, or null. */
async function lockAuthorizationOf(q: Queries, challengeId: string): Promise<string | null> {
  const r = await q.one('SELECT a.id FROM challenges c JOIN authorizations a ON a.id = c.authz_id WHERE c.id = ? FOR UPDATE OF a', challengeId);
  return (r?.id as string | undefined) ?? null;
}

/**
 * After an authorization changed (inside the caller's transaction): for each of its orders, reads
 * the order's status and the statuses of all its authorizations, asks the domain what the order
 * becomes, and writes that conditionally on the status it read. The order rows are locked first
 * (FOR UPDATE, in id order): when the last two authorizations of an order are validated at once on
 * two replicas, the second waits for the first to commit, and its read of the statuses (a new
 * statement, so a new snapshot under READ COMMITTED) then sees both valid and makes the order ready.
 */
async function cascadeToOrders(
  q: Queries,
  authzId: string,
  decide: (orderStatus: OrderStatus, authzStatuses: AuthorizationStatus[]) => OrderChange | null,
  nowMs: number,
): Promise<void> {
  const orders = await q.all(
    'SELECT o.id, o.status FROM order_authorizations oa JOIN orders o ON o.id = oa.order_id WHERE oa.authz_id = ? ORDER BY o.id FOR UPDATE OF o',
    authzId,
  );
  for (const o of orders) {
    const authzStatuses = (
      await q.all('SELECT az.status FROM order_authorizations oa JOIN authorizations az ON az.id = oa.authz_id WHERE oa.order_id = ?', o.id)
    ).map((r) => r.status as AuthorizationStatus);
    const change = decide(o.status as OrderStatus, authzStatuses);
    if (!change) continue;
    await q.run(
      'UPDATE orders SET status = ?, error_json = ?, updated_at = ? WHERE id = ? AND status = ?',
      change.status,
      change.error ? JSON.stringify(change.error) : null,
      nowMs,
      o.id,
      o.status,
    );
  }
}

export function postgresOrders(db: PgDb): Store['orders'] {
  return {
    createWithAuthorizations: async (o) =>
      db.tx(async (q) => {
        const now = o.now.getTime();
        // Rate limits first, each under its lock, in this write (RFC 8555 §6.6): a refused order writes nothing.
        await checkPendingOrders(q, o.accountId, o.limits?.pendingOrders, now);
        await (await reserveSlot(q, o.limits?.newOrders, now))();
        const authzStatus = o.authorizations.map((a) => newAuthorizationStatus(!!a.preauthorized));
        // seq comes from the column's sequence (migration 005): unique however many replicas insert.
        await q.run(
          `INSERT INTO orders (id, directory, account_id, status, identifiers_json, not_before, not_after, profile, replaces,
             replaces_certificate_id, eab_key_id, expires_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        for (const [position, a] of o.authorizations.entries()) {
          await q.run(
            `INSERT INTO authorizations (id, directory, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            a.id,
            o.directory,
            o.accountId,
            a.identifier.type,
            a.identifier.value,
            a.wildcard,
            authzStatus[position],
            a.expires.getTime(),
            now,
            now,
          );
          await q.run('INSERT INTO order_authorizations (order_id, authz_id, position) VALUES (?, ?, ?)', o.id, a.id, position);
          if (a.preauthorized) {
            const { eabKeyId, scope } = a.preauthorized;
            await recordPreauthorization(q, { eabKeyId, scope, directory: o.directory, accountId: o.accountId, orderId: o.id, authzId: a.id, identifier: a.identifier, wildcard: a.wildcard }, now);
          }
          for (const c of a.challenges) {
            await q.run(
              `INSERT INTO challenges (id, authz_id, type, token, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
              c.id,
              a.id,
              c.type,
              c.token,
              now,
              now,
            );
          }
        }
        return (await readOrder(q, o.id))!;
      }),
    get: async (id) => readOrder(db, id),
    listForAccount: async (accountId, cursor, limit): Promise<OrderPage> => {
      // Keyset pagination on the creation sequence: stable while new orders arrive.
      const afterSeq = cursor ? decodeOrderCursor(cursor) : 0;
      const rows = await db.all('SELECT id, seq FROM orders WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?', accountId, afterSeq, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        orderIds: page.map((r) => r.id as string),
        next: rows.length > limit && last ? encodeOrderCursor(last.seq as number) : null,
      };
    },
    // Two finalizes at once (on one replica or two): the second UPDATE waits for the first's row
    // lock, re-checks the status on the committed row, finds it processing and changes nothing.
    markProcessing: async (orderId, csr, job, now) =>
      db.tx(async (q) => {
        const n = await q.run(
          `UPDATE orders SET status = ?, csr_der = ?, csr_spki_sha256 = ?, updated_at = ? WHERE id = ? AND ${statusIn(ORDER_FINALIZE)}`,
          ORDER_FINALIZE.to,
          csr.der,
          csr.spkiSha256,
          now.getTime(),
          orderId,
          ...ORDER_FINALIZE.from,
        );
        if (n !== 1) return false;
        await insertJob(q, 'issue', orderId, job, now.getTime());
        return true;
      }),
    completeIssuance: async (orderId, attemptId, cert, now) =>
      db.tx(async (q) => {
        const order = await q.one('SELECT directory, account_id, replaces_certificate_id FROM orders WHERE id = ?', orderId);
        if (!order) return false;
        const nowMs = now.getTime();
        const accountId = order.account_id as string;
        // The certificate first: its serial may be on record already (an orphan kept by an earlier
        // reconciliation, or being recorded by another replica's audit right now), and then that
        // row is the certificate the order gets.
        const certId = await insertCertificate(q, cert, order.directory as string, orderId, accountId, nowMs);
        const n = await q.run(
          `UPDATE orders SET status = ?, certificate_id = ?, updated_at = ? WHERE id = ? AND ${statusIn(ORDER_ISSUED)}`,
          ORDER_ISSUED.to,
          certId,
          nowMs,
          orderId,
          ...ORDER_ISSUED.from,
        );
        if (n !== 1) {
          // The order settled some other way (e.g. another replica won): the certificate stays,
          // unattached, so an issuance the PCA made is never lost.
          if (attemptId) await finishAttempt(q, attemptId, 'issued', cert.pcaSerial, 'order already settled', nowMs);
          return false;
        }
        if (certId !== cert.id) await claimOrphan(q, certId, orderId, accountId);
        if (order.replaces_certificate_id) await markReplaced(q, order.replaces_certificate_id as string, orderId);
        if (attemptId) await finishAttempt(q, attemptId, 'issued', cert.pcaSerial, null, nowMs);
        await closeLiveJobs(q, 'issue', orderId, 'done', null, nowMs);
        return true;
      }),
    fail: async (orderId, error, now) =>
      db.tx(async (q) => {
        const nowMs = now.getTime();
        const n = await q.run(
          `UPDATE orders SET status = ?, error_json = ?, updated_at = ? WHERE id = ? AND ${statusIn(ORDER_FAIL)}`,
          ORDER_FAIL.to,
          JSON.stringify(error),
          nowMs,
          orderId,
          ...ORDER_FAIL.from,
        );
        await closeLiveJobs(q, 'issue', orderId, 'failed', error.detail, nowMs);
        return n === 1;
      }),
    listProcessingWithoutLiveJob: async () =>
      (
        await db.all(
          `SELECT o.id FROM orders o WHERE o.status = 'processing' AND NOT EXISTS (
             SELECT 1 FROM jobs j WHERE j.kind = 'issue' AND j.subject_id = o.id AND j.state IN ('queued', 'running'))
           ORDER BY o.id`,
        )
      ).map((r) => r.id as string),
    findReplacing: async (certificateId) => {
      const r = await db.one("SELECT id FROM orders WHERE replaces_certificate_id = ? AND status <> 'invalid' LIMIT 1", certificateId);
      return (r?.id as string | undefined) ?? null;
    },
    getCsr: async (orderId) => {
      const r = await db.one('SELECT csr_der FROM orders WHERE id = ?', orderId);
      return (r?.csr_der as Buffer | null | undefined) ?? null;
    },
  };
}

export function postgresAuthorizations(db: PgDb): Store['authorizations'] {
  return {
    get: async (id) => readAuthorization(db, id),
    getMany: async (ids) => (await Promise.all(ids.map((id) => readAuthorization(db, id)))).filter((a): a is Authorization => a !== null),
    deactivate: async (id, now) =>
      db.tx(async (q) => {
        const nowMs = now.getTime();
        if (!(await moveStatus(q, 'authorizations', AUTHZ_DEACTIVATE, id, nowMs))) return null;
        await cascadeToOrders(q, id, orderOnAuthorizationDeactivated, nowMs);
        return readAuthorization(q, id);
      }),
  };
}

export function postgresChallenges(db: PgDb): Store['challenges'] {
  return {
    get: async (id) => {
      const r = await db.one('SELECT * FROM challenges WHERE id = ?', id);
      if (!r) return null;
      const authz = await readAuthorization(db, r.authz_id as string);
      return authz ? { challenge: rowToChallenge(r), authz } : null;
    },
    start: async (challengeId, job, now, limit) =>
      db.tx(async (q) => {
        const nowMs = now.getTime();
        // Before the authorization's lock: the account's validations lock comes first in every intent that takes both.
        await checkRunningValidations(q, challengeId, limit);
        // The authorization's lock makes "no other challenge of it is processing" hold at the
        // write: two challenges of one authorization started at once on two replicas would each
        // otherwise see the other still pending.
        if (!(await lockAuthorizationOf(q, challengeId))) return false;
        // RFC 8555 §7.5.1: only a pending challenge of an unexpired authorization that a validation
        // can still move can be started, and only one challenge of an authorization is validated at a time.
        const n = await q.run(
          `UPDATE challenges SET status = ?, updated_at = ?
           WHERE id = ? AND ${statusIn(CHALLENGE_START)}
             AND authz_id IN (SELECT id FROM authorizations WHERE ${statusIn(AUTHZ_VALIDATED)} AND expires_at > ?)
             AND NOT EXISTS (SELECT 1 FROM challenges c2 WHERE c2.authz_id = challenges.authz_id AND c2.status = ?)`,
          CHALLENGE_START.to,
          nowMs,
          challengeId,
          ...CHALLENGE_START.from,
          ...AUTHZ_VALIDATED.from,
          nowMs,
          CHALLENGE_START.to,
        );
        if (n !== 1) return false;
        await insertJob(q, 'validate', challengeId, job, nowMs);
        return true;
      }),
    recordValidation: async (result) =>
      db.tx(async (q) => {
        const nowMs = result.now.getTime();
        const authzId = await lockAuthorizationOf(q, result.challengeId);
        if (!authzId) return false;
        const challenge = result.valid ? CHALLENGE_VALIDATED : CHALLENGE_FAILED;
        const n = await q.run(
          `UPDATE challenges SET status = ?, validated_at = ?, error_json = ?, record_json = ?, updated_at = ?
           WHERE id = ? AND ${statusIn(challenge)}`,
          challenge.to,
          result.valid ? nowMs : null,
          result.error ? JSON.stringify(result.error) : null,
          JSON.stringify(result.record ?? null),
          nowMs,
          result.challengeId,
          ...challenge.from,
        );
        await closeLiveJobs(q, 'validate', result.challengeId, n === 1 ? 'done' : 'failed', result.error?.detail ?? null, nowMs);
        if (n !== 1) return false;
        // failedValidationsPerIdentifier: a failure counts in the write that records it, exactly once.
        if (!result.valid && result.countFailure) await countEvent(q, 'failedValidationsPerIdentifier', result.countFailure.subject, nowMs, result.countFailure.windowMs);
        if (!(await moveStatus(q, 'authorizations', result.valid ? AUTHZ_VALIDATED : AUTHZ_FAILED, authzId, nowMs))) return true;
        // In the same transaction, so an order is ready in the same write as its last valid
        // authorization (interop item 21).
        await cascadeToOrders(
          q,
          authzId,
          result.valid ? orderOnAuthorizationValid : (status, statuses) => orderOnAuthorizationInvalid(status, statuses, result.error),
          nowMs,
        );
        return true;
      }),
    listProcessingWithoutLiveJob: async () =>
      (
        await db.all(
          `SELECT c.id FROM challenges c WHERE c.status = 'processing' AND NOT EXISTS (
             SELECT 1 FROM jobs j WHERE j.kind = 'validate' AND j.subject_id = c.id AND j.state IN ('queued', 'running'))
           ORDER BY c.id`,
        )
      ).map((r) => r.id as string),
  };
}
