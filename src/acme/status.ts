import { AcmeProblem, type ProblemDocument } from './problems.js';
import type {
  AccountStatus,
  Authorization,
  AuthorizationStatus,
  CertificateStatus,
  ChallengeStatus,
  Order,
  OrderStatus,
} from './types.js';

// Every status transition of the gateway, named (RFC 8555 §7.1.6). The domain decides; the store
// applies each decision as a conditional write (`UPDATE … SET status = to WHERE status IN from`), so
// a write that finds the row in another status changes nothing and reports it. No status rule is
// written in SQL: a store reads what a rule needs inside its transaction and asks these functions.
// What a client sees also depends on time, so reads pass through effectiveAuthzStatus and
// effectiveOrderStatus; the store never writes 'expired'.

/** A row moves to `to` only while its status is one of `from`. */
export interface Transition<S extends string> {
  readonly from: readonly S[];
  readonly to: S;
}

/** Whether the transition applies to a row in `status`. */
export function allows<S extends string>(t: Transition<S>, status: S): boolean {
  return t.from.includes(status);
}

// ---------- challenges (RFC 8555 §7.1.6, §7.5.1) ----------

/** The client's POST to the challenge URL starts the validation of a pending challenge. */
export const CHALLENGE_START: Transition<ChallengeStatus> = { from: ['pending'], to: 'processing' };
/** The validation found the expected response. */
export const CHALLENGE_VALIDATED: Transition<ChallengeStatus> = { from: ['processing'], to: 'valid' };
/** The validation failed (wrong response, unreachable, timed out): the challenge carries the error. */
export const CHALLENGE_FAILED: Transition<ChallengeStatus> = { from: ['processing'], to: 'invalid' };

// ---------- authorizations (RFC 8555 §7.1.6, §7.5.2) ----------

/** One of its challenges became valid. A challenge can start only while this still applies. */
export const AUTHZ_VALIDATED: Transition<AuthorizationStatus> = { from: ['pending'], to: 'valid' };
/** The client tried a challenge and failed: the authorization is invalid. */
export const AUTHZ_FAILED: Transition<AuthorizationStatus> = { from: ['pending'], to: 'invalid' };
/** §7.5.2: the client deactivates a pending or valid authorization. */
export const AUTHZ_DEACTIVATE: Transition<AuthorizationStatus> = { from: ['pending', 'valid'], to: 'deactivated' };

/**
 * A new authorization starts pending; one for an identifier the operator pre-authorized for the
 * account (an EAB key's scope, issue 9) starts valid with no challenge: RFC 8555 §7.4.1 lets the
 * server have authorized the client already. The new order's status then follows from these, as
 * orderStatusFromAuthorizations says (ready at once when every one is valid).
 */
export const newAuthorizationStatus = (preauthorized: boolean): 'pending' | 'valid' => (preauthorized ? 'valid' : 'pending');

// ---------- orders (RFC 8555 §7.1.6, §7.4) ----------

/** §7.4: finalize moves a ready order to processing (a second finalize finds it no longer ready). */
export const ORDER_FINALIZE: Transition<OrderStatus> = { from: ['ready'], to: 'processing' };
/** The certificate is issued and attached. */
export const ORDER_ISSUED: Transition<OrderStatus> = { from: ['processing'], to: 'valid' };
/** The order ends with a problem (issuance refused or out of time); a settled order stays as it is. */
export const ORDER_FAIL: Transition<OrderStatus> = { from: ['pending', 'ready', 'processing'], to: 'invalid' };

/** What an order's stored status and error become after one of its authorizations changed. */
export type OrderChange = { status: 'ready'; error: null } | { status: 'invalid'; error: ProblemDocument | null };

/**
 * The order status its authorizations call for (§7.1.6), the order's own expiry aside: invalid once
 * any authorization is neither pending nor valid, ready when every one is valid, else pending.
 */
export function orderStatusFromAuthorizations(authzStatuses: readonly AuthorizationStatus[]): 'pending' | 'ready' | 'invalid' {
  if (authzStatuses.some((s) => s !== 'valid' && s !== 'pending')) return 'invalid';
  if (authzStatuses.length > 0 && authzStatuses.every((s) => s === 'valid')) return 'ready';
  return 'pending';
}

/**
 * One of the order's authorizations became valid; `authzStatuses` are all of them, that one
 * included. A pending order becomes ready once every one is valid — in the same write as the last
 * valid authorization, so a client that polls the order right after its challenge never sees it
 * pending (interop item 21).
 */
export function orderOnAuthorizationValid(orderStatus: OrderStatus, authzStatuses: readonly AuthorizationStatus[]): OrderChange | null {
  if (orderStatus !== 'pending') return null;
  return orderStatusFromAuthorizations(authzStatuses) === 'ready' ? { status: 'ready', error: null } : null;
}

/**
 * One of the order's authorizations became invalid (its challenge failed with `error`): a pending
 * order becomes invalid with that error, so the client learns why from the order too.
 */
export function orderOnAuthorizationInvalid(
  orderStatus: OrderStatus,
  authzStatuses: readonly AuthorizationStatus[],
  error: ProblemDocument | null,
): OrderChange | null {
  if (orderStatus !== 'pending') return null;
  return orderStatusFromAuthorizations(authzStatuses) === 'invalid' ? { status: 'invalid', error } : null;
}

/** The problem an order gets when the client deactivates one of its authorizations (§7.5.2). */
export function authorizationDeactivatedProblem(): AcmeProblem {
  return new AcmeProblem('unauthorized', 'an authorization of this order was deactivated');
}

/**
 * One of the order's authorizations was deactivated: an order not yet finalized (pending or ready)
 * can no longer be issued and becomes invalid with authorizationDeactivatedProblem(). An order
 * already processing or settled keeps its status.
 */
export function orderOnAuthorizationDeactivated(orderStatus: OrderStatus, authzStatuses: readonly AuthorizationStatus[]): OrderChange | null {
  if (orderStatus !== 'pending' && orderStatus !== 'ready') return null;
  return orderStatusFromAuthorizations(authzStatuses) === 'invalid' ? { status: 'invalid', error: authorizationDeactivatedProblem().toDocument() } : null;
}

// ---------- accounts (§7.3.6) and certificates (§7.6) ----------

/** §7.3.6: a valid account is deactivated by its holder; nothing brings it back. */
export const ACCOUNT_DEACTIVATE: Transition<AccountStatus> = { from: ['valid'], to: 'deactivated' };
/** §7.6: a valid certificate is revoked once. */
export const CERTIFICATE_REVOKE: Transition<CertificateStatus> = { from: ['valid'], to: 'revoked' };

// ---------- what time does ----------

/** §7.1.6: a pending or valid authorization past its expiry reads as expired. */
export function effectiveAuthzStatus(authz: Pick<Authorization, 'status' | 'expires'>, now: Date): AuthorizationStatus {
  if ((authz.status === 'pending' || authz.status === 'valid') && authz.expires.getTime() <= now.getTime()) return 'expired';
  return authz.status;
}

/**
 * Order status from its stored status, its authorizations' effective statuses and the time: an
 * order not yet finalized is invalid once it expires, and otherwise what orderStatusFromAuthorizations
 * says (the same rule the store applies when an authorization changes; here an authorization's
 * expiry also counts).
 */
export function effectiveOrderStatus(order: Pick<Order, 'status' | 'expires'>, authzStatuses: readonly AuthorizationStatus[], now: Date): OrderStatus {
  if (order.status === 'pending' || order.status === 'ready') {
    if (order.expires.getTime() <= now.getTime()) return 'invalid';
    return orderStatusFromAuthorizations(authzStatuses);
  }
  return order.status;
}
