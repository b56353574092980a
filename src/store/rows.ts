import type { IssuanceRules } from '../acme/issuance-policy.js';
import type { PreauthorizedScopes } from '../acme/preauthorization.js';
import type { RateLimitOverrides } from '../acme/rate-limits.js';
import type { ProblemDocument } from '../acme/problems.js';
import type { Account, Authorization, AuthorizationStatus, Certificate, Challenge, Identifier, Order } from '../acme/types.js';
import type { EabKeyRecord, IssuanceAttempt, Job, JobKind, PreauthorizationUse } from './types.js';

// Rows to domain objects, shared by the SQLite and the PostgreSQL store: both have the same tables
// and columns (migrations/ and migrations/postgres/), so one mapping keeps the two backends returning
// identical objects. The only difference a mapper sees is how a flag comes back (SQLite 0/1,
// PostgreSQL BOOLEAN); times are epoch-ms numbers in both (the PostgreSQL store parses BIGINT).

export type Row = Record<string, unknown>;

export const json = <T>(text: unknown): T => JSON.parse(text as string) as T;
export const dateOrNull = (ms: unknown): Date | null => (ms === null || ms === undefined ? null : new Date(ms as number));
export const textOrNull = (v: unknown): string | null => (v as string | null | undefined) ?? null;
export const problemOrNull = (text: unknown): ProblemDocument | null => (text ? json<ProblemDocument>(text) : null);
/** A boolean column: SQLite stores 0/1, PostgreSQL a BOOLEAN. */
export const flag = (v: unknown): boolean => v === 1 || v === true;
/** A nullable JSON column. */
const jsonOrNull = <T>(text: unknown): T | null => (text === null || text === undefined ? null : json<T>(text));

export function rowToAccount(r: Row): Account {
  return {
    id: r.id as string,
    directory: r.directory as string,
    jwk: json(r.jwk_json),
    thumbprint: r.jwk_thumbprint as string,
    status: r.status as Account['status'],
    contact: json(r.contact_json),
    termsOfServiceAgreed: flag(r.tos_agreed),
    eabKeyId: textOrNull(r.eab_key_id),
    createdAt: new Date(r.created_at as number),
  };
}

export function rowToChallenge(r: Row): Challenge {
  return {
    id: r.id as string,
    authzId: r.authz_id as string,
    type: r.type as Challenge['type'],
    token: r.token as string,
    status: r.status as Challenge['status'],
    validatedAt: dateOrNull(r.validated_at),
    error: problemOrNull(r.error_json),
  };
}

/** An authorizations row with its challenges (in the order they were offered). */
export function rowToAuthorization(r: Row, challenges: Challenge[]): Authorization {
  return {
    id: r.id as string,
    directory: r.directory as string,
    accountId: r.account_id as string,
    identifier: { type: r.identifier_type as Identifier['type'], value: r.identifier_value as string },
    wildcard: flag(r.wildcard),
    status: r.status as AuthorizationStatus,
    expires: new Date(r.expires_at as number),
    challenges,
  };
}

/** An orders row with the ids of its authorizations (by position). */
export function rowToOrder(r: Row, authzIds: string[]): Order {
  return {
    id: r.id as string,
    directory: r.directory as string,
    accountId: r.account_id as string,
    status: r.status as Order['status'],
    identifiers: json(r.identifiers_json),
    authzIds,
    notBefore: dateOrNull(r.not_before),
    notAfter: dateOrNull(r.not_after),
    profile: textOrNull(r.profile),
    replaces: textOrNull(r.replaces),
    replacesCertificateId: textOrNull(r.replaces_certificate_id),
    expires: new Date(r.expires_at as number),
    error: problemOrNull(r.error_json),
    certificateId: textOrNull(r.certificate_id),
    csrSpkiSha256: textOrNull(r.csr_spki_sha256),
    eabKeyId: textOrNull(r.eab_key_id),
    createdAt: new Date(r.created_at as number),
    updatedAt: new Date(r.updated_at as number),
  };
}

export function rowToCertificate(r: Row): Certificate {
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    accountId: r.account_id as string,
    directory: r.directory as string,
    serialHex: r.serial_hex as string,
    pcaSerial: r.pca_serial as string,
    leafPem: r.leaf_pem as string,
    fullchainPem: r.fullchain_pem as string,
    spkiSha256: r.spki_sha256 as string,
    akiB64: textOrNull(r.aki_b64),
    notBefore: new Date(r.not_before as number),
    notAfter: new Date(r.not_after as number),
    status: r.status as Certificate['status'],
    revokedAt: dateOrNull(r.revoked_at),
    revocationReason: (r.revocation_reason as number | null) ?? null,
    replacedByOrderId: textOrNull(r.replaced_by_order_id),
    createdAt: new Date(r.created_at as number),
  };
}

export function rowToEabKey(r: Row): EabKeyRecord {
  return {
    id: r.id as string,
    directory: r.directory as string,
    label: r.label as string,
    hmacKeyEnc: r.hmac_key_enc as string,
    createdAt: new Date(r.created_at as number),
    expiresAt: dateOrNull(r.expires_at),
    revokedAt: dateOrNull(r.revoked_at),
    boundAccountId: textOrNull(r.bound_account_id),
    boundAt: dateOrNull(r.bound_at),
    policy: jsonOrNull<IssuanceRules>(r.policy_json),
    rateLimits: jsonOrNull<RateLimitOverrides>(r.rate_limits_json),
    preauthorizedScopes: jsonOrNull<PreauthorizedScopes>(r.preauth_json),
  };
}

export function rowToPreauthorizationUse(r: Row): PreauthorizationUse {
  return {
    eabKeyId: r.eab_key_id as string,
    directory: r.directory as string,
    orderId: r.order_id as string,
    authzId: r.authz_id as string,
    accountId: r.account_id as string,
    identifier: { type: r.identifier_type as Identifier['type'], value: r.identifier_value as string },
    wildcard: flag(r.wildcard),
    scope: r.scope as string,
    usedAt: new Date(r.used_at as number),
  };
}

export function rowToAttempt(r: Row): IssuanceAttempt {
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    spkiSha256: r.spki_sha256 as string,
    startedAt: r.started_at as number,
    finishedAt: (r.finished_at as number | null) ?? null,
    outcome: r.outcome as IssuanceAttempt['outcome'],
    pcaSerial: textOrNull(r.pca_serial),
    error: textOrNull(r.error),
  };
}

export function rowToJob(r: Row): Job {
  return {
    id: r.id as string,
    kind: r.kind as JobKind,
    subjectId: r.subject_id as string,
    state: r.state as Job['state'],
    attempts: r.attempts as number,
    runAt: r.run_at as number,
    deadlineAt: r.deadline_at as number,
    lastError: textOrNull(r.last_error),
    createdAt: r.created_at as number,
    payload: textOrNull(r.payload_json),
  };
}

/**
 * Keyset cursor of the orders list: the creation sequence number after which the next page starts.
 * Opaque to clients (RFC 8555 §7.1.2.1 only says "next" link).
 */
export function encodeOrderCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}

/** The sequence number after which a page starts; an unreadable cursor starts at the beginning. */
export function decodeOrderCursor(cursor: string): number {
  const m = /^s(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : 0;
}
