import type { JWK } from 'jose';
import type { CheckedCsr } from '../acme/csr.js';
import type { IssuanceRules } from '../acme/issuance-policy.js';
import type { PreauthorizedScopes } from '../acme/preauthorization.js';
import type { RateLimitOverrides } from '../acme/rate-limits.js';
import type { ConcurrentLimit, CountedLimit, PreauthorizationUsage, PreauthorizationUse } from './limit-types.js';
import type { ProblemDocument } from '../acme/problems.js';
import type {
  IssuedCertificate,
  Account,
  Authorization,
  Certificate,
  Challenge,
  ChallengeType,
  Identifier,
  Order,
} from '../acme/types.js';
import type { OpsStore } from './ops-types.js';

// The Store is an async interface of intents, not CRUD (ARCHITECTURE.md): each method is one atomic
// unit, and every state change is a conditional write whose result says whether it happened. Nothing
// holds a transaction across an await, so a PostgreSQL implementation can sit behind the same contract.
// Which status a row may move to is decided by acme/status.ts, never by the store; and an intent
// writes nothing its comment below does not name.

// Rate limits and pre-authorization records (issue 9) have their types in limit-types.ts.
export { RateLimitExceeded, type ConcurrentLimit, type CountedLimit, type PreauthorizationUsage, type PreauthorizationUse } from './limit-types.js';

export interface NewAccount {
  id: string;
  directory: string;
  jwk: JWK;
  thumbprint: string;
  contact: string[];
  termsOfServiceAgreed: boolean;
  eabKeyId: string | null;
  now: Date;
  /** newAccountsPerIp: checked and counted in the write that creates the account (never for an existing one). */
  rateLimit?: CountedLimit | null;
}

export interface NewChallenge {
  id: string;
  type: ChallengeType;
  token: string;
}

export interface NewAuthorization {
  id: string;
  identifier: Identifier;
  wildcard: boolean;
  expires: Date;
  challenges: NewChallenge[];
  /**
   * Pre-authorized by an EAB key's scope: created valid (acme/status.ts newAuthorizationStatus),
   * normally with no challenges, and the use recorded in the same write. Absent or null: pending.
   */
  preauthorized?: { eabKeyId: string; scope: string } | null;
}

export interface NewOrder {
  id: string;
  directory: string;
  accountId: string;
  identifiers: Identifier[];
  notBefore: Date | null;
  notAfter: Date | null;
  profile: string | null;
  /** The certID exactly as the client sent it (echoed in the order). */
  replaces: string | null;
  /** The certificate that certID names, when it is one of ours (RFC 9773 §5 checks). */
  replacesCertificateId: string | null;
  /** The EAB key whose policy narrowed this order (the account's); absent or null: none. */
  eabKeyId?: string | null;
  expires: Date;
  authorizations: NewAuthorization[];
  now: Date;
  /** Checked, and newOrders counted, in the write that creates the order (RateLimitExceeded otherwise). */
  limits?: {
    /** newOrdersPerAccount. */
    newOrders?: CountedLimit | null;
    /** pendingOrdersPerAccount: the account's orders still pending and unexpired, this one not included. */
    pendingOrders?: ConcurrentLimit | null;
  };
}

export type JobKind = 'validate' | 'issue' | 'notify';

export interface Job {
  id: string;
  kind: JobKind;
  subjectId: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  attempts: number;
  runAt: number;
  deadlineAt: number;
  lastError: string | null;
  createdAt: number;
  /** What a job carries besides its subject (a webhook delivery's body); null for the others. */
  payload?: string | null;
}

export interface NewJob {
  id: string;
  runAt: number;
  deadlineAt: number;
  /**
   * Leased at creation to the runner of the process that creates it, which starts it as soon as the
   * write commits: inserted `running` (first attempt) with this lease instead of `queued`, so no claim
   * query and no claim transaction stand between the write and the work. A process that dies before
   * running it leaves a lease that runs out like any other (taken over, or requeued at start-up).
   */
  lease?: { owner: string; untilMs: number };
}

export interface ValidationResult {
  challengeId: string;
  valid: boolean;
  error: ProblemDocument | null;
  record: unknown;
  now: Date;
  /**
   * failedValidationsPerIdentifier: when the outcome is a failure and is recorded, one event under
   * this subject is counted in the same write (kept for windowMs); a success counts nothing.
   */
  countFailure?: { subject: string; windowMs: number } | null;
}

/** A certificate the PCA issued, as the store records it (the domain's shape). */
export type { IssuedCertificate };

export interface IssuanceAttempt {
  id: string;
  orderId: string;
  spkiSha256: string;
  startedAt: number;
  finishedAt: number | null;
  outcome: 'pending' | 'issued' | 'failed' | 'unknown';
  pcaSerial: string | null;
  error: string | null;
}

export interface OrderPage {
  orderIds: string[];
  /** Cursor for the next page, null on the last one. */
  next: string | null;
}

export interface EabKeyRecord {
  id: string;
  directory: string;
  label: string;
  /** AES-256-GCM ciphertext of the HMAC key (see platform/key-sealer.ts). */
  hmacKeyEnc: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  boundAccountId: string | null;
  boundAt: Date | null;
  /** The rules by which the key narrows its directory's issuance policy; null: none. Set at creation only. */
  policy: IssuanceRules | null;
  /** Rate limits that replace the directory's for the key's account; null: none. Set at creation only. */
  rateLimits: RateLimitOverrides | null;
  /** What the key's account may get without a challenge (where the directory allows it); null: nothing. Set at creation only. */
  preauthorizedScopes: PreauthorizedScopes | null;
}


/** Thrown by accounts.createOrGet when the EAB key was bound, revoked or expired meanwhile. */
export class EabKeyUnavailable extends Error {
  constructor(readonly keyId: string) {
    super(`external account key ${keyId} is no longer available`);
  }
}

export type KeyChangeResult = { ok: true; account: Account } | { ok: false; reason: 'conflict'; conflictingAccountId: string } | { ok: false; reason: 'gone' };

/**
 * A certificate of the PCA as the gateway learned it (Get issued cert, ncp-pca-api §3.5), kept so a
 * later search (reconciliation, the audit) need not ask again: facts that never change.
 */
export interface PcaCertificateRecord {
  /** As the PCA writes it (colon hex). */
  serialNo: string;
  notBeforeMs: number;
  /** SHA-256 of its SubjectPublicKeyInfo, hex; null when the PCA's PEM did not parse. */
  spkiSha256: string | null;
  certPem: string;
  /** The caChain the PCA reported with it (may be empty). */
  caChainPems: string[];
}

/** What Store.tryExclusive did: ran fn (with its value), or left it to the lock's holder. */
export type Exclusive<T> = { ran: true; value: T } | { ran: false };

export interface Store extends OpsStore {
  settings: {
    /** The value under key; when absent, stores make() atomically (first writer wins) and returns it. */
    getOrCreate(key: string, make: () => string): Promise<string>;
    get(key: string): Promise<string | null>;
    set(key: string, value: string): Promise<void>;
    /**
     * Stores value under key only while the key still holds expected (null: while it is absent), in
     * one conditional write; false when another writer changed it first (then nothing is written).
     */
    compareAndSet(key: string, expected: string | null, value: string): Promise<boolean>;
  };
  nonces: {
    /** true the first time a nonce is redeemed, false on replay. */
    redeem(nonce: string, expiresAtMs: number): Promise<boolean>;
    prune(nowMs: number): Promise<number>;
  };
  accounts: {
    /**
     * Creates the account, or returns the existing one for the same key (created: false). With an
     * eabKeyId the key is bound to the new account in the same write; EabKeyUnavailable if it cannot be.
     * With a rateLimit the new account is counted against it in the same write (RateLimitExceeded,
     * nothing written, when it is full); an existing account is returned without counting.
     */
    createOrGet(account: NewAccount): Promise<{ account: Account; created: boolean }>;
    get(id: string): Promise<Account | null>;
    findByThumbprint(directory: string, thumbprint: string): Promise<Account | null>;
    /** Replaces the contacts of a valid account; null when the account is not valid. */
    updateContact(id: string, contact: string[], now: Date): Promise<Account | null>;
    /** valid → deactivated (RFC 8555 §7.3.6); null when the account was not valid. */
    deactivate(id: string, now: Date): Promise<Account | null>;
    /**
     * RFC 8555 §7.3.5: replaces the key of a valid account that still has oldThumbprint; a conflict
     * (naming the holder) when another account of the directory has the new key, gone otherwise.
     */
    changeKey(id: string, oldThumbprint: string, jwk: JWK, thumbprint: string, now: Date): Promise<KeyChangeResult>;
  };
  orders: {
    /**
     * The order with its authorizations and their challenges, in one write: each authorization
     * pending, or valid when pre-authorized (its use recorded in the same write), and the order
     * pending, or ready when every authorization is valid (acme/status.ts). order.limits are checked
     * first, inside the same write: RateLimitExceeded and nothing written when one refuses.
     */
    createWithAuthorizations(order: NewOrder): Promise<Order>;
    get(id: string): Promise<Order | null>;
    listForAccount(accountId: string, cursor: string | null, limit: number): Promise<OrderPage>;
    /**
     * ready → processing with the CSR and its key hash (Order.csrSpkiSha256), and the issuance job
     * queued, in one write; false if not ready (then nothing is written).
     */
    markProcessing(orderId: string, csr: Pick<CheckedCsr, 'der' | 'spkiSha256'>, job: NewJob, now: Date): Promise<boolean>;
    /**
     * processing → valid with the certificate attached, in one write that also: stores the
     * certificate (or, when its serial is already on record as an orphan, claims that row for the
     * order), marks the certificate named by the order's `replaces` as replaced (RFC 9773 §5),
     * records the attempt (when given) as issued, and closes the order's live issuance job as done.
     * When the order is no longer processing: false, and the certificate is still stored (unattached,
     * so nothing the PCA issued is lost) and the attempt recorded as issued; the job is left alone.
     */
    completeIssuance(orderId: string, attemptId: string | null, cert: IssuedCertificate, now: Date): Promise<boolean>;
    /**
     * pending | ready | processing → invalid with the problem; false when the order had already
     * settled. In the same write the order's live issuance job is closed as failed — also when the
     * order had settled, as that job has nothing left to do. Issuance attempts are not touched: the
     * caller settles them (issuance.failOpenAttempts) or leaves them open while a sign call's outcome
     * is unknown.
     */
    fail(orderId: string, error: ProblemDocument, now: Date): Promise<boolean>;
    /** Order ids left in processing whose issuance job is no longer live (for the start-up sweep). */
    listProcessingWithoutLiveJob(): Promise<string[]>;
    getCsr(orderId: string): Promise<Buffer | null>;
    /** Another order, not invalid, that already names this certificate in `replaces` (RFC 9773 §5). */
    findReplacing(certificateId: string): Promise<string | null>;
  };
  authorizations: {
    get(id: string): Promise<Authorization | null>;
    getMany(ids: string[]): Promise<Authorization[]>;
    /**
     * pending | valid → deactivated (RFC 8555 §7.5.2), and in the same write every order using it
     * that acme/status.ts orderOnAuthorizationDeactivated moves (pending or ready → invalid with
     * authorizationDeactivatedProblem); null when the authorization could not be deactivated.
     */
    deactivate(id: string, now: Date): Promise<Authorization | null>;
  };
  challenges: {
    get(id: string): Promise<{ challenge: Challenge; authz: Authorization } | null>;
    /**
     * pending → processing and a validation job queued, in one write; false when not pending. With
     * a limit (concurrentValidationsPerAccount): RateLimitExceeded, and nothing written, when the
     * account already has that many challenges processing.
     */
    start(challengeId: string, job: NewJob, now: Date, limit?: ConcurrentLimit | null): Promise<boolean>;
    /**
     * The outcome of a validation, in one write: challenge processing → valid/invalid, its
     * authorization pending → valid/invalid, every order of the authorization as acme/status.ts
     * orderOnAuthorizationValid / orderOnAuthorizationInvalid decide (pending → ready when all its
     * authorizations are valid, or → invalid with the challenge's error), and the challenge's live
     * validation job closed: done, or failed when the challenge was not processing (then false and
     * nothing else changes).
     */
    recordValidation(result: ValidationResult): Promise<boolean>;
    /** Challenge ids left in processing whose validation job is no longer live (start-up sweep). */
    listProcessingWithoutLiveJob(): Promise<string[]>;
  };
  eabKeys: {
    create(key: {
      id: string;
      directory: string;
      label: string;
      hmacKeyEnc: string;
      expiresAt: Date | null;
      policy?: IssuanceRules | null;
      rateLimits?: RateLimitOverrides | null;
      preauthorizedScopes?: PreauthorizedScopes | null;
      now: Date;
    }): Promise<void>;
    get(id: string): Promise<EabKeyRecord | null>;
    list(directory: string): Promise<EabKeyRecord[]>;
    /** Marks the key revoked; false when unknown or already revoked. */
    revoke(id: string, now: Date): Promise<boolean>;
  };
  rateLimits: {
    /**
     * When the limit would refuse one more event now: the time it would pass again; null when it
     * would pass. Counts nothing (failedValidationsPerIdentifier is counted by recordValidation).
     */
    check(limit: CountedLimit, now: Date): Promise<number | null>;
    /** Deletes counted events whose window has passed (housekeeping); returns how many. */
    prune(nowMs: number): Promise<number>;
  };
  preauthorizations: {
    /** The uses of one key's scopes, newest first, at most `limit`. */
    listForKey(eabKeyId: string, limit: number): Promise<PreauthorizationUse[]>;
    /** For each key of the directory whose scopes were used: how often and when last. */
    usage(directory: string): Promise<PreauthorizationUsage[]>;
  };
  certificates: {
    get(id: string): Promise<Certificate | null>;
    getBySerial(serialHex: string): Promise<Certificate | null>;
    /** Records a certificate the PCA issued that no order took (reconciliation); idempotent by serial. */
    recordOrphan(cert: IssuedCertificate, directory: string, orderId: string | null, now: Date): Promise<void>;
    /** valid → revoked; false when it was already revoked. */
    revoke(id: string, reason: number, now: Date): Promise<boolean>;
  };
  issuance: {
    recordAttempt(attempt: { id: string; orderId: string; spkiSha256: string; startedAt: number }): Promise<void>;
    finishAttempt(id: string, outcome: 'issued' | 'failed' | 'unknown', pcaSerial: string | null, error: string | null, now: number): Promise<void>;
    /**
     * Every attempt of the order still pending or unknown → failed with the reason; returns how many.
     * For a caller that knows the PCA issued nothing for them (e.g. the order ended without a
     * certificate and no sign call's outcome is in doubt).
     */
    failOpenAttempts(orderId: string, error: string, now: number): Promise<number>;
    attemptsForOrder(orderId: string): Promise<IssuanceAttempt[]>;
    /**
     * The most recent attempt that asked for a certificate for this key (the PCA audit); with a
     * directory, only attempts for that directory's orders (each directory's audit walks its own PCA).
     */
    latestForKey(spkiSha256: string, directory?: string): Promise<IssuanceAttempt | null>;
    /** When the first attempt ever was made; null before any. */
    earliestStartedAt(): Promise<number | null>;
  };
  /** Issue 10: what was learned of the PCA's certificates, per CA (its caTag), across restarts and replicas. */
  pcaCertificates: {
    /** The records of those serials of the CA that are on file (any order; unknown serials left out). */
    getMany(ca: string, serials: readonly string[]): Promise<PcaCertificateRecord[]>;
    /** Keeps what was learned; a serial already on file is left as it is (facts never change). */
    record(ca: string, records: readonly PcaCertificateRecord[], nowMs: number): Promise<void>;
    /** Forgets certificates whose notBefore is before the cut-off (older than any search looks); returns how many. */
    prune(notBeforeBeforeMs: number): Promise<number>;
  };
  jobs: {
    /** Claims up to `limit` due jobs with a lease (queued, or running with an expired lease). */
    claimDue(owner: string, nowMs: number, leaseMs: number, limit: number, kind?: JobKind): Promise<Job[]>;
    /** Puts a claimed job back to run later (retry with backoff); false if the lease was lost. */
    reschedule(id: string, owner: string, runAt: number, error: string, nowMs: number): Promise<boolean>;
    /**
     * A job written leased to this owner that never started (its runner stopped between the write and
     * the start): queued again, due at `nowMs`, the attempt its leased write counted taken back, so
     * that its backoff and the operator's view count only the runs it had. False if the lease was lost.
     */
    handBack(id: string, owner: string, error: string, nowMs: number): Promise<boolean>;
    /** Marks the job finished without a domain write (e.g. its subject is already settled). */
    finish(id: string, state: 'done' | 'failed', error: string | null, nowMs: number): Promise<void>;
    /**
     * Extends the lease of a job the owner is running, so that no other process takes it over while
     * it still runs (a runner renews well before the lease runs out); false when the lease was lost:
     * the job was taken over after its lease expired, handed back, requeued or finished.
     */
    renewLease(id: string, owner: string, leaseUntilMs: number, nowMs: number): Promise<boolean>;
    /** Releases every lease held by owner (graceful shutdown hands jobs back). */
    releaseAll(owner: string, nowMs: number): Promise<number>;
    get(id: string): Promise<Job | null>;
    countActive(): Promise<number>;
    /** Deletes finished (done or failed) jobs last touched before the given time; returns how many. */
    pruneFinished(beforeMs: number): Promise<number>;
    /**
     * Start-up sweep: running jobs whose owner is gone are queued again, due now; returns how many.
     * Which owners are gone depends on who shares the store, so each implementation answers for its
     * own: a SQLite file has a single writer process, so at start-up every running job was left by a
     * dead process and all are requeued; a PostgreSQL database is shared by replicas, where a job
     * whose lease is still held belongs to a live one, so only jobs whose lease has expired are
     * requeued (a dead replica's others are taken over by claimDue once their lease runs out).
     */
    requeueRunning(nowMs: number): Promise<number>;
    /** Queues a job for a subject when no live one exists (start-up sweep). */
    ensure(kind: JobKind, subjectId: string, job: NewJob, nowMs: number): Promise<boolean>;
  };
  /**
   * Runs fn unless another holder of the named lock is running it: within this process for SQLite
   * (one process owns the file), across every process on the database for PostgreSQL (an advisory
   * lock), so that work meant to happen once per deployment (the PCA audit) runs on one replica at
   * a time. Never waits: { ran: false } when the lock is held. The lock is released when fn settles.
   */
  tryExclusive<T>(name: string, fn: () => Promise<T>): Promise<Exclusive<T>>;
  /** Checks the database answers within a short time (readiness); rejects when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
