import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_DEACTIVATE,
  allows,
  AUTHZ_DEACTIVATE,
  AUTHZ_FAILED,
  AUTHZ_VALIDATED,
  authorizationDeactivatedProblem,
  CERTIFICATE_REVOKE,
  CHALLENGE_FAILED,
  CHALLENGE_START,
  CHALLENGE_VALIDATED,
  effectiveAuthzStatus,
  effectiveOrderStatus,
  ORDER_FAIL,
  ORDER_FINALIZE,
  ORDER_ISSUED,
  orderOnAuthorizationDeactivated,
  orderOnAuthorizationInvalid,
  orderOnAuthorizationValid,
  orderStatusFromAuthorizations,
  type Transition,
} from './status.js';
import type { AuthorizationStatus, OrderStatus } from './types.js';

const ORDER_STATUSES: OrderStatus[] = ['pending', 'ready', 'processing', 'valid', 'invalid'];
const AUTHZ_STATUSES: AuthorizationStatus[] = ['pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked'];
const PROBLEM = { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: 'wrong key authorization', status: 400 };
const NOW = new Date(Date.UTC(2026, 0, 1));
const later = (ms: number) => new Date(NOW.getTime() + ms);

/** The statuses of `all` from which `t` applies. */
const appliesFrom = <S extends string>(t: Transition<S>, all: S[]) => all.filter((s) => allows(t, s));

describe('transitions applied as conditional writes', () => {
  it('challenges: pending → processing → valid | invalid (RFC 8555 §7.1.6)', () => {
    expect(appliesFrom(CHALLENGE_START, ['pending', 'processing', 'valid', 'invalid'])).toEqual(['pending']);
    expect(CHALLENGE_START.to).toBe('processing');
    expect(appliesFrom(CHALLENGE_VALIDATED, ['pending', 'processing', 'valid', 'invalid'])).toEqual(['processing']);
    expect(CHALLENGE_VALIDATED.to).toBe('valid');
    expect(appliesFrom(CHALLENGE_FAILED, ['pending', 'processing', 'valid', 'invalid'])).toEqual(['processing']);
    expect(CHALLENGE_FAILED.to).toBe('invalid');
  });

  it('authorizations: pending → valid | invalid; pending | valid → deactivated (§7.5.2)', () => {
    expect(appliesFrom(AUTHZ_VALIDATED, AUTHZ_STATUSES)).toEqual(['pending']);
    expect(AUTHZ_VALIDATED.to).toBe('valid');
    expect(appliesFrom(AUTHZ_FAILED, AUTHZ_STATUSES)).toEqual(['pending']);
    expect(AUTHZ_FAILED.to).toBe('invalid');
    expect(appliesFrom(AUTHZ_DEACTIVATE, AUTHZ_STATUSES)).toEqual(['pending', 'valid']);
    expect(AUTHZ_DEACTIVATE.to).toBe('deactivated');
  });

  it('orders: ready → processing (finalize), processing → valid (issued), unsettled → invalid (fail)', () => {
    expect(appliesFrom(ORDER_FINALIZE, ORDER_STATUSES)).toEqual(['ready']);
    expect(ORDER_FINALIZE.to).toBe('processing');
    expect(appliesFrom(ORDER_ISSUED, ORDER_STATUSES)).toEqual(['processing']);
    expect(ORDER_ISSUED.to).toBe('valid');
    expect(appliesFrom(ORDER_FAIL, ORDER_STATUSES)).toEqual(['pending', 'ready', 'processing']);
    expect(ORDER_FAIL.to).toBe('invalid');
  });

  it('accounts: valid → deactivated (§7.3.6); certificates: valid → revoked (§7.6)', () => {
    expect(appliesFrom(ACCOUNT_DEACTIVATE, ['valid', 'deactivated', 'revoked'])).toEqual(['valid']);
    expect(ACCOUNT_DEACTIVATE.to).toBe('deactivated');
    expect(appliesFrom(CERTIFICATE_REVOKE, ['valid', 'revoked'])).toEqual(['valid']);
    expect(CERTIFICATE_REVOKE.to).toBe('revoked');
  });

  it('no transition lists its target among its sources, so a repeated write changes nothing', () => {
    const all: Transition<string>[] = [
      CHALLENGE_START, CHALLENGE_VALIDATED, CHALLENGE_FAILED, AUTHZ_VALIDATED, AUTHZ_FAILED, AUTHZ_DEACTIVATE,
      ORDER_FINALIZE, ORDER_ISSUED, ORDER_FAIL, ACCOUNT_DEACTIVATE, CERTIFICATE_REVOKE,
    ];
    for (const t of all) expect(allows(t, t.to)).toBe(false);
  });
});

describe('orderStatusFromAuthorizations (§7.1.6)', () => {
  it('ready only when every authorization is valid', () => {
    expect(orderStatusFromAuthorizations(['valid'])).toBe('ready');
    expect(orderStatusFromAuthorizations(['valid', 'valid', 'valid'])).toBe('ready');
    expect(orderStatusFromAuthorizations(['valid', 'pending'])).toBe('pending');
    expect(orderStatusFromAuthorizations(['pending'])).toBe('pending');
  });

  it('an order without authorizations is not ready', () => {
    expect(orderStatusFromAuthorizations([])).toBe('pending');
  });

  it('invalid as soon as one authorization is neither pending nor valid', () => {
    for (const bad of ['invalid', 'deactivated', 'expired', 'revoked'] as const) {
      expect(orderStatusFromAuthorizations(['valid', bad])).toBe('invalid');
      expect(orderStatusFromAuthorizations([bad, 'pending'])).toBe('invalid');
    }
  });
});

describe('orderOnAuthorizationValid', () => {
  it('a pending order becomes ready with the last valid authorization, without an error', () => {
    expect(orderOnAuthorizationValid('pending', ['valid', 'valid'])).toEqual({ status: 'ready', error: null });
  });

  it('stays pending while another authorization is pending', () => {
    expect(orderOnAuthorizationValid('pending', ['valid', 'pending'])).toBeNull();
  });

  it('does not make an order invalid, even if another authorization is', () => {
    expect(orderOnAuthorizationValid('pending', ['valid', 'invalid'])).toBeNull();
  });

  it('leaves an order that is not pending alone', () => {
    for (const s of ORDER_STATUSES.filter((x) => x !== 'pending')) expect(orderOnAuthorizationValid(s, ['valid'])).toBeNull();
  });
});

describe('orderOnAuthorizationInvalid', () => {
  it('a pending order becomes invalid with the failed challenge’s error', () => {
    expect(orderOnAuthorizationInvalid('pending', ['invalid', 'pending'], PROBLEM)).toEqual({ status: 'invalid', error: PROBLEM });
    expect(orderOnAuthorizationInvalid('pending', ['valid', 'invalid'], PROBLEM)).toEqual({ status: 'invalid', error: PROBLEM });
  });

  it('leaves an order that is not pending alone', () => {
    for (const s of ORDER_STATUSES.filter((x) => x !== 'pending')) expect(orderOnAuthorizationInvalid(s, ['invalid'], PROBLEM)).toBeNull();
  });

  it('changes nothing when the statuses show no invalid authorization', () => {
    expect(orderOnAuthorizationInvalid('pending', ['pending'], PROBLEM)).toBeNull();
  });
});

describe('orderOnAuthorizationDeactivated (§7.5.2)', () => {
  const problem = authorizationDeactivatedProblem();

  it('the problem is unauthorized (403) and says why', () => {
    expect(problem.toDocument()).toEqual({
      type: 'urn:ietf:params:acme:error:unauthorized',
      detail: 'an authorization of this order was deactivated',
      status: 403,
    });
  });

  it('a pending or ready order becomes invalid with that problem', () => {
    expect(orderOnAuthorizationDeactivated('pending', ['deactivated', 'pending'])).toEqual({ status: 'invalid', error: problem.toDocument() });
    expect(orderOnAuthorizationDeactivated('ready', ['deactivated'])).toEqual({ status: 'invalid', error: problem.toDocument() });
  });

  it('an order already finalized or settled keeps its status', () => {
    for (const s of ['processing', 'valid', 'invalid'] as const) expect(orderOnAuthorizationDeactivated(s, ['deactivated'])).toBeNull();
  });
});

describe('effectiveAuthzStatus', () => {
  it('pending or valid past the expiry reads expired; at the instant of expiry too', () => {
    expect(effectiveAuthzStatus({ status: 'pending', expires: NOW }, NOW)).toBe('expired');
    expect(effectiveAuthzStatus({ status: 'valid', expires: later(-1) }, NOW)).toBe('expired');
  });

  it('before the expiry the stored status stands', () => {
    expect(effectiveAuthzStatus({ status: 'pending', expires: later(1) }, NOW)).toBe('pending');
    expect(effectiveAuthzStatus({ status: 'valid', expires: later(1) }, NOW)).toBe('valid');
  });

  it('a final status is kept after the expiry', () => {
    for (const s of ['invalid', 'deactivated', 'revoked'] as const) expect(effectiveAuthzStatus({ status: s, expires: later(-1) }, NOW)).toBe(s);
  });
});

describe('effectiveOrderStatus', () => {
  const order = (status: OrderStatus, expiresIn = 60_000) => ({ status, expires: later(expiresIn) });

  it('a pending or ready order past its expiry is invalid; at the instant of expiry too', () => {
    expect(effectiveOrderStatus(order('pending', 0), ['pending'], NOW)).toBe('invalid');
    expect(effectiveOrderStatus(order('ready', -1), ['valid'], NOW)).toBe('invalid');
  });

  it('otherwise follows orderStatusFromAuthorizations', () => {
    expect(effectiveOrderStatus(order('pending'), ['valid', 'valid'], NOW)).toBe('ready');
    expect(effectiveOrderStatus(order('pending'), ['valid', 'pending'], NOW)).toBe('pending');
    expect(effectiveOrderStatus(order('ready'), ['valid', 'expired'], NOW)).toBe('invalid');
    expect(effectiveOrderStatus(order('pending'), ['deactivated'], NOW)).toBe('invalid');
    expect(effectiveOrderStatus(order('pending'), [], NOW)).toBe('pending');
  });

  it('a finalized or settled order keeps its stored status, expired or not', () => {
    for (const s of ['processing', 'valid', 'invalid'] as const) {
      expect(effectiveOrderStatus(order(s, -1), ['expired'], NOW)).toBe(s);
      expect(effectiveOrderStatus(order(s), ['pending'], NOW)).toBe(s);
    }
  });
});
