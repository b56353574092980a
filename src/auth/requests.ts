import type { JWK } from 'jose';
import type { AcmeProblem } from '../acme/problems.js';
import type { Account } from '../acme/types.js';

// What a verified request hands on, one shape per signing mode (RFC 8555 §6.2: an account's "kid" or
// an embedded "jwk"), so that a handler or a service never has to assert which one it got. Each mode
// has its entry point in auth/verifier.ts.

/** The JWS payload: null for POST-as-GET (an empty payload, RFC 8555 §6.3), else a JSON object. */
export type Payload = Record<string, unknown> | null;

/** A key a JWS carried in its "jwk" header, checked, in its stored shape, with its RFC 7638 thumbprint. */
export interface SigningKey {
  jwk: JWK;
  thumbprint: string;
}

/**
 * The externalAccountBinding check (RFC 8555 §7.3.4), made whenever newAccount carries one. A refusal
 * is handed on rather than thrown: whether it matters is the new-account policy's call (a key that
 * already has an account gets it back whatever else was sent, RFC 8555 §7.3.1; payload problems
 * come first).
 */
export type EabCheck = { ok: true; keyId: string } | { ok: false; problem: AcmeProblem };

/** newAccount (RFC 8555 §7.3): signed with the new account's key (jwk). */
export interface NewAccountRequest extends SigningKey {
  mode: 'new-account';
  payload: Payload;
  /** null when the payload has no externalAccountBinding. */
  externalAccountBinding: EabCheck | null;
}

/** Signed by a valid account (kid): every account, order, authorization and challenge POST. */
export interface AccountRequest {
  mode: 'account';
  account: Account;
  payload: Payload;
}

/** POST-as-GET (RFC 8555 §6.3): signed by a valid account, with an empty payload. */
export interface PostAsGetRequest {
  mode: 'post-as-get';
  account: Account;
  payload: null;
}

/** keyChange (RFC 8555 §7.3.5): the outer JWS by the account, the inner one by the new key, both verified. */
export interface KeyChangeRequest {
  mode: 'key-change';
  account: Account;
  newKey: SigningKey;
}

/** revokeCert (RFC 8555 §7.6) signed by the account that owns the certificate (kid)… */
export interface RevokeByAccountRequest {
  mode: 'revoke';
  signer: 'account';
  account: Account;
  payload: Payload;
}

/** …or by the certificate's own key (jwk). */
export interface RevokeByKeyRequest extends SigningKey {
  mode: 'revoke';
  signer: 'key';
  payload: Payload;
}

export type RevokeRequest = RevokeByAccountRequest | RevokeByKeyRequest;

export type VerifiedRequest = NewAccountRequest | AccountRequest | PostAsGetRequest | KeyChangeRequest | RevokeRequest;
