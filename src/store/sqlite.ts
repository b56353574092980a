import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ProblemDocument } from '../acme/problems.js';
import type {
  Account,
  Authorization,
  AuthorizationStatus,
  Certificate,
  Challenge,
  Identifier,
  Order,
} from '../acme/types.js';
import { migrate } from './migrate.js';
import {
  EabKeyUnavailable,
  type EabKeyRecord,
  type IssuanceAttempt,
  type IssuedCertificate,
  type Job,
  type JobKind,
  type KeyChangeResult,
  type NewAccount,
  type NewJob,
  type NewOrder,
  type OrderPage,
  type Store,
  type ValidationResult,
} from './types.js';

// The SQLite Store. All SQL of the gateway is in this file. better-sqlite3 is synchronous, so each
// intent runs as one transaction that finishes before the returned promise settles: no transaction
// ever spans an await.

type Row = Record<string, unknown>;

const json = <T>(text: unknown): T => JSON.parse(text as string) as T;
const dateOrNull = (ms: unknown): Date | null => (ms === null || ms === undefined ? null : new Date(ms as number));
const problemOrNull = (text: unknown): ProblemDocument | null => (text ? json<ProblemDocument>(text) : null);

function rowToAccount(r: Row): Account {
  return {
    id: r.id as string,
    directory: r.directory as string,
    jwk: json(r.jwk_json),
    thumbprint: r.jwk_thumbprint as string,
    status: r.status as Account['status'],
    contact: json(r.contact_json),
    termsOfServiceAgreed: r.tos_agreed === 1,
    eabKeyId: (r.eab_key_id as string | null) ?? null,
    createdAt: new Date(r.created_at as number),
  };
}

function rowToChallenge(r: Row): Challenge {
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

function rowToCertificate(r: Row): Certificate {
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
    akiB64: (r.aki_b64 as string | null) ?? null,
    notBefore: new Date(r.not_before as number),
    notAfter: new Date(r.not_after as number),
    status: r.status as Certificate['status'],
    revokedAt: dateOrNull(r.revoked_at),
    revocationReason: (r.revocation_reason as number | null) ?? null,
    replacedByOrderId: (r.replaced_by_order_id as string | null) ?? null,
    createdAt: new Date(r.created_at as number),
  };
}

function rowToEabKey(r: Row): EabKeyRecord {
  return {
    id: r.id as string,
    directory: r.directory as string,
    label: r.label as string,
    hmacKeyEnc: r.hmac_key_enc as string,
    createdAt: new Date(r.created_at as number),
    expiresAt: dateOrNull(r.expires_at),
    revokedAt: dateOrNull(r.revoked_at),
    boundAccountId: (r.bound_account_id as string | null) ?? null,
    boundAt: dateOrNull(r.bound_at),
  };
}

function rowToAttempt(r: Row): IssuanceAttempt {
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    spkiSha256: r.spki_sha256 as string,
    startedAt: r.started_at as number,
    finishedAt: (r.finished_at as number | null) ?? null,
    outcome: r.outcome as IssuanceAttempt['outcome'],
    pcaSerial: (r.pca_serial as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

function rowToJob(r: Row): Job {
  return {
    id: r.id as string,
    kind: r.kind as JobKind,
    subjectId: r.subject_id as string,
    state: r.state as Job['state'],
    attempts: r.attempts as number,
    runAt: r.run_at as number,
    deadlineAt: r.deadline_at as number,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for throwaway tests. */
  path: string;
  migrationsDir?: string;
}

export function openSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL'); // with WAL: durable across process crashes, fsync at checkpoints
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, options.migrationsDir);
  return new SqliteStore(db);
}

class SqliteStore implements Store {
  /** Prepared statements by SQL text: the set of statements is fixed, and preparing is not free. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
  private one(sql: string, ...params: unknown[]): Row | undefined {
    return this.stmt(sql).get(...params) as Row | undefined;
  }
  private all(sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...params) as Row[];
  }
  private run(sql: string, ...params: unknown[]): number {
    return this.stmt(sql).run(...params).changes;
  }
  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---------- reads shared by several intents ----------

  private readAccount(id: string): Account | null {
    const r = this.one('SELECT * FROM accounts WHERE id = ?', id);
    return r ? rowToAccount(r) : null;
  }

  private readAuthorization(id: string): Authorization | null {
    const r = this.one('SELECT * FROM authorizations WHERE id = ?', id);
    if (!r) return null;
    const challenges = this.all('SELECT * FROM challenges WHERE authz_id = ? ORDER BY created_at, rowid', id).map(rowToChallenge);
    return {
      id: r.id as string,
      directory: r.directory as string,
      accountId: r.account_id as string,
      identifier: { type: r.identifier_type as Identifier['type'], value: r.identifier_value as string },
      wildcard: r.wildcard === 1,
      status: r.status as AuthorizationStatus,
      expires: new Date(r.expires_at as number),
      challenges,
    };
  }

  private readOrder(id: string): Order | null {
    const r = this.one('SELECT * FROM orders WHERE id = ?', id);
    if (!r) return null;
    const authzIds = this.all('SELECT authz_id FROM order_authorizations WHERE order_id = ? ORDER BY position', id).map(
      (a) => a.authz_id as string,
    );
    return {
      id: r.id as string,
      directory: r.directory as string,
      accountId: r.account_id as string,
      status: r.status as Order['status'],
      identifiers: json(r.identifiers_json),
      authzIds,
      notBefore: dateOrNull(r.not_before),
      notAfter: dateOrNull(r.not_after),
      profile: (r.profile as string | null) ?? null,
      replaces: (r.replaces as string | null) ?? null,
      replacesCertificateId: (r.replaces_certificate_id as string | null) ?? null,
      expires: new Date(r.expires_at as number),
      error: problemOrNull(r.error_json),
      certificateId: (r.certificate_id as string | null) ?? null,
      createdAt: new Date(r.created_at as number),
      updatedAt: new Date(r.updated_at as number),
    };
  }

  private insertJob(kind: JobKind, subjectId: string, job: NewJob, nowMs: number): void {
    this.run(
      `INSERT INTO jobs (id, kind, subject_id, state, attempts, run_at, deadline_at, created_at, updated_at)
       VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)`,
      job.id,
      kind,
      subjectId,
      job.runAt,
      job.deadlineAt,
      nowMs,
      nowMs,
    );
  }

  private closeJobs(kind: JobKind, subjectId: string, state: 'done' | 'failed', error: string | null, nowMs: number): void {
    this.run(
      `UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
       WHERE kind = ? AND subject_id = ? AND state IN ('queued', 'running')`,
      state,
      error,
      nowMs,
      kind,
      subjectId,
    );
  }

  private insertCertificate(cert: IssuedCertificate, directory: string, orderId: string | null, accountId: string | null, nowMs: number): void {
    this.run(
      `INSERT INTO certificates (id, directory, order_id, account_id, serial_hex, pca_serial, leaf_pem, fullchain_pem,
         spki_sha256, aki_b64, not_before, not_after, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?)
       ON CONFLICT (serial_hex) DO NOTHING`,
      cert.id,
      directory,
      orderId,
      accountId,
      cert.serialHex,
      cert.pcaSerial,
      cert.leafPem,
      cert.fullchainPem,
      cert.spkiSha256,
      cert.akiB64,
      cert.notBefore.getTime(),
      cert.notAfter.getTime(),
      nowMs,
    );
  }

  // ---------- settings ----------

  settings = {
    get: async (key: string): Promise<string | null> => (this.one('SELECT value FROM settings WHERE key = ?', key)?.value as string | undefined) ?? null,
    set: async (key: string, value: string): Promise<void> => {
      this.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    },
    getOrCreate: async (key: string, make: () => string): Promise<string> =>
      this.tx(() => {
        const existing = this.one('SELECT value FROM settings WHERE key = ?', key);
        if (existing) return existing.value as string;
        const value = make();
        this.run('INSERT INTO settings (key, value) VALUES (?, ?)', key, value);
        return value;
      }),
  };

  // ---------- nonces ----------

  nonces = {
    redeem: async (nonce: string, expiresAtMs: number): Promise<boolean> =>
      this.run('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING', nonce, expiresAtMs) === 1,
    prune: async (nowMs: number): Promise<number> => this.run('DELETE FROM used_nonces WHERE expires_at < ?', nowMs),
  };

  // ---------- accounts ----------

  accounts = {
    createOrGet: async (a: NewAccount): Promise<{ account: Account; created: boolean }> =>
      this.tx(() => {
        const now = a.now.getTime();
        const existing = this.one('SELECT * FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', a.directory, a.thumbprint);
        if (existing) return { account: rowToAccount(existing), created: false };
        const inserted = this.run(
          `INSERT INTO accounts (id, directory, jwk_thumbprint, jwk_json, status, contact_json, tos_agreed, eab_key_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?)
           ON CONFLICT (directory, jwk_thumbprint) DO NOTHING`,
          a.id,
          a.directory,
          a.thumbprint,
          JSON.stringify(a.jwk),
          JSON.stringify(a.contact),
          a.termsOfServiceAgreed ? 1 : 0,
          a.eabKeyId,
          now,
          now,
        );
        if (inserted === 1 && a.eabKeyId) {
          // Each EAB key creates exactly one account (RFC 8555 §7.3.4): bind it in the same write.
          const bound = this.run(
            `UPDATE eab_keys SET bound_account_id = ?, bound_at = ?
             WHERE id = ? AND bound_account_id IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
            a.id,
            now,
            a.eabKeyId,
            now,
          );
          if (bound !== 1) throw new EabKeyUnavailable(a.eabKeyId); // rolls the account back
        }
        const row = this.one('SELECT * FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', a.directory, a.thumbprint)!;
        return { account: rowToAccount(row), created: inserted === 1 };
      }),
    get: async (id: string) => this.readAccount(id),
    findByThumbprint: async (directory: string, thumbprint: string) => {
      const r = this.one('SELECT * FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', directory, thumbprint);
      return r ? rowToAccount(r) : null;
    },
    updateContact: async (id: string, contact: string[], now: Date) => {
      const n = this.run(
        "UPDATE accounts SET contact_json = ?, updated_at = ? WHERE id = ? AND status = 'valid'",
        JSON.stringify(contact),
        now.getTime(),
        id,
      );
      return n === 1 ? this.readAccount(id) : null;
    },
    deactivate: async (id: string, now: Date) => {
      const n = this.run("UPDATE accounts SET status = 'deactivated', updated_at = ? WHERE id = ? AND status = 'valid'", now.getTime(), id);
      return n === 1 ? this.readAccount(id) : null;
    },
    changeKey: async (id: string, oldThumbprint: string, jwk: object, thumbprint: string, now: Date): Promise<KeyChangeResult> =>
      this.tx(() => {
        const account = this.readAccount(id);
        if (!account) return { ok: false, reason: 'gone' } as const;
        const other = this.one('SELECT id FROM accounts WHERE directory = ? AND jwk_thumbprint = ?', account.directory, thumbprint);
        if (other) return { ok: false, reason: 'conflict', conflictingAccountId: other.id as string } as const;
        const n = this.run(
          "UPDATE accounts SET jwk_json = ?, jwk_thumbprint = ?, updated_at = ? WHERE id = ? AND jwk_thumbprint = ? AND status = 'valid'",
          JSON.stringify(jwk),
          thumbprint,
          now.getTime(),
          id,
          oldThumbprint,
        );
        if (n !== 1) return { ok: false, reason: 'gone' } as const;
        return { ok: true, account: this.readAccount(id)! } as const;
      }),
  };

  // ---------- orders ----------

  orders = {
    createWithAuthorizations: async (o: NewOrder): Promise<Order> =>
      this.tx(() => {
        const now = o.now.getTime();
        this.run(
          `INSERT INTO orders (id, directory, account_id, status, identifiers_json, not_before, not_after, profile, replaces,
             replaces_certificate_id, expires_at, created_at, updated_at, seq)
           VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM orders))`,
          o.id,
          o.directory,
          o.accountId,
          JSON.stringify(o.identifiers),
          o.notBefore?.getTime() ?? null,
          o.notAfter?.getTime() ?? null,
          o.profile,
          o.replaces,
          o.replacesCertificateId ?? null,
          o.expires.getTime(),
          now,
          now,
        );
        o.authorizations.forEach((a, position) => {
          this.run(
            `INSERT INTO authorizations (id, directory, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
            a.id,
            o.directory,
            o.accountId,
            a.identifier.type,
            a.identifier.value,
            a.wildcard ? 1 : 0,
            a.expires.getTime(),
            now,
            now,
          );
          this.run('INSERT INTO order_authorizations (order_id, authz_id, position) VALUES (?, ?, ?)', o.id, a.id, position);
          for (const c of a.challenges) {
            this.run(
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
        return this.readOrder(o.id)!;
      }),
    get: async (id: string) => this.readOrder(id),
    listForAccount: async (accountId: string, cursor: string | null, limit: number): Promise<OrderPage> => {
      // Keyset pagination on the creation sequence: stable while new orders arrive.
      const afterSeq = cursor ? decodeCursor(cursor) : 0;
      const rows = this.all('SELECT id, seq FROM orders WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?', accountId, afterSeq, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        orderIds: page.map((r) => r.id as string),
        next: rows.length > limit && last ? encodeCursor(last.seq as number) : null,
      };
    },
    markProcessing: async (orderId: string, csrDer: Buffer, job: NewJob, now: Date): Promise<boolean> =>
      this.tx(() => {
        const n = this.run(
          "UPDATE orders SET status = 'processing', csr_der = ?, updated_at = ? WHERE id = ? AND status = 'ready'",
          csrDer,
          now.getTime(),
          orderId,
        );
        if (n !== 1) return false;
        this.insertJob('issue', orderId, job, now.getTime());
        return true;
      }),
    completeIssuance: async (orderId: string, attemptId: string | null, cert: IssuedCertificate, now: Date): Promise<boolean> =>
      this.tx(() => {
        const order = this.one('SELECT directory, account_id, replaces_certificate_id FROM orders WHERE id = ?', orderId);
        if (!order) return false;
        const nowMs = now.getTime();
        // The serial may already be on record (kept as an orphan by an earlier reconciliation): then
        // that row is the certificate, claimed for this order.
        const known = this.one('SELECT id FROM certificates WHERE serial_hex = ?', cert.serialHex);
        const certId = (known?.id as string | undefined) ?? cert.id;
        const n = this.run(
          "UPDATE orders SET status = 'valid', certificate_id = ?, updated_at = ? WHERE id = ? AND status = 'processing'",
          certId,
          nowMs,
          orderId,
        );
        if (n !== 1) {
          // The order settled some other way (e.g. another replica won): keep the certificate anyway,
          // unattached, so an issuance the PCA made is never lost.
          this.insertCertificate(cert, order.directory as string, orderId, order.account_id as string, nowMs);
          if (attemptId) this.finishAttemptSync(attemptId, 'issued', cert.pcaSerial, 'order already settled', nowMs);
          return false;
        }
        this.insertCertificate(cert, order.directory as string, orderId, order.account_id as string, nowMs);
        if (known) {
          this.run('UPDATE certificates SET order_id = ?, account_id = ? WHERE id = ? AND account_id IS NULL', orderId, order.account_id, certId);
        }
        if (order.replaces_certificate_id) {
          this.run(
            'UPDATE certificates SET replaced_by_order_id = ? WHERE id = ? AND replaced_by_order_id IS NULL',
            orderId,
            order.replaces_certificate_id,
          );
        }
        if (attemptId) this.finishAttemptSync(attemptId, 'issued', cert.pcaSerial, null, nowMs);
        this.closeJobs('issue', orderId, 'done', null, nowMs);
        return true;
      }),
    fail: async (orderId: string, error: ProblemDocument, now: Date): Promise<boolean> =>
      this.tx(() => {
        const nowMs = now.getTime();
        const n = this.run(
          "UPDATE orders SET status = 'invalid', error_json = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'ready', 'processing')",
          JSON.stringify(error),
          nowMs,
          orderId,
        );
        this.closeJobs('issue', orderId, 'failed', error.detail, nowMs);
        this.run(
          "UPDATE issuance_attempts SET outcome = 'failed', finished_at = ?, error = ? WHERE order_id = ? AND outcome IN ('pending', 'unknown')",
          nowMs,
          error.detail,
          orderId,
        );
        return n === 1;
      }),
    listProcessingWithoutLiveJob: async (): Promise<string[]> =>
      this.all(
        `SELECT o.id FROM orders o WHERE o.status = 'processing' AND NOT EXISTS (
           SELECT 1 FROM jobs j WHERE j.kind = 'issue' AND j.subject_id = o.id AND j.state IN ('queued', 'running'))`,
      ).map((r) => r.id as string),
    findReplacing: async (certificateId: string): Promise<string | null> => {
      const r = this.one("SELECT id FROM orders WHERE replaces_certificate_id = ? AND status <> 'invalid' LIMIT 1", certificateId);
      return (r?.id as string | undefined) ?? null;
    },
    getCsr: async (orderId: string): Promise<Buffer | null> => {
      const r = this.one('SELECT csr_der FROM orders WHERE id = ?', orderId);
      return (r?.csr_der as Buffer | null | undefined) ?? null;
    },
  };

  // ---------- authorizations and challenges ----------

  authorizations = {
    get: async (id: string) => this.readAuthorization(id),
    getMany: async (ids: string[]) => ids.map((id) => this.readAuthorization(id)).filter((a): a is Authorization => a !== null),
    deactivate: async (id: string, now: Date) =>
      this.tx(() => {
        const nowMs = now.getTime();
        const n = this.run(
          "UPDATE authorizations SET status = 'deactivated', updated_at = ? WHERE id = ? AND status IN ('pending', 'valid')",
          nowMs,
          id,
        );
        if (n !== 1) return null;
        this.run(
          `UPDATE orders SET status = 'invalid', updated_at = ?, error_json = ?
           WHERE id IN (SELECT order_id FROM order_authorizations WHERE authz_id = ?) AND status IN ('pending', 'ready')`,
          nowMs,
          JSON.stringify({ type: 'urn:ietf:params:acme:error:unauthorized', detail: 'an authorization of this order was deactivated', status: 403 }),
          id,
        );
        return this.readAuthorization(id);
      }),
  };

  challenges = {
    get: async (id: string) => {
      const r = this.one('SELECT * FROM challenges WHERE id = ?', id);
      if (!r) return null;
      const authz = this.readAuthorization(r.authz_id as string);
      return authz ? { challenge: rowToChallenge(r), authz } : null;
    },
    start: async (challengeId: string, job: NewJob, now: Date): Promise<boolean> =>
      this.tx(() => {
        const nowMs = now.getTime();
        // RFC 8555 §7.5.1: only a pending challenge of a pending authorization can be started, and
        // only one challenge of an authorization is validated at a time.
        const n = this.run(
          `UPDATE challenges SET status = 'processing', updated_at = ?
           WHERE id = ? AND status = 'pending'
             AND authz_id IN (SELECT id FROM authorizations WHERE status = 'pending' AND expires_at > ?)
             AND NOT EXISTS (SELECT 1 FROM challenges c2 WHERE c2.authz_id = challenges.authz_id AND c2.status = 'processing')`,
          nowMs,
          challengeId,
          nowMs,
        );
        if (n !== 1) return false;
        this.insertJob('validate', challengeId, job, nowMs);
        return true;
      }),
    recordValidation: async (result: ValidationResult): Promise<boolean> =>
      this.tx(() => {
        const nowMs = result.now.getTime();
        const ch = this.one('SELECT authz_id FROM challenges WHERE id = ?', result.challengeId);
        if (!ch) return false;
        const n = this.run(
          `UPDATE challenges SET status = ?, validated_at = ?, error_json = ?, record_json = ?, updated_at = ?
           WHERE id = ? AND status = 'processing'`,
          result.valid ? 'valid' : 'invalid',
          result.valid ? nowMs : null,
          result.error ? JSON.stringify(result.error) : null,
          JSON.stringify(result.record ?? null),
          nowMs,
          result.challengeId,
        );
        this.closeJobs('validate', result.challengeId, n === 1 ? 'done' : 'failed', result.error?.detail ?? null, nowMs);
        if (n !== 1) return false;
        const authzId = ch.authz_id as string;
        const a = this.run(
          "UPDATE authorizations SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
          result.valid ? 'valid' : 'invalid',
          nowMs,
          authzId,
        );
        if (a !== 1) return true;
        const orderIds = this.all('SELECT order_id FROM order_authorizations WHERE authz_id = ?', authzId).map((r) => r.order_id as string);
        for (const orderId of orderIds) {
          if (result.valid) {
            // RFC 8555 §7.1.6 and interop item 21: ready in the same write as the last valid authorization.
            this.run(
              `UPDATE orders SET status = 'ready', updated_at = ? WHERE id = ? AND status = 'pending' AND NOT EXISTS (
                 SELECT 1 FROM order_authorizations oa JOIN authorizations az ON az.id = oa.authz_id
                 WHERE oa.order_id = orders.id AND az.status <> 'valid')`,
              nowMs,
              orderId,
            );
          } else {
            this.run(
              "UPDATE orders SET status = 'invalid', error_json = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
              JSON.stringify(result.error),
              nowMs,
              orderId,
            );
          }
        }
        return true;
      }),
    listProcessingWithoutLiveJob: async (): Promise<string[]> =>
      this.all(
        `SELECT c.id FROM challenges c WHERE c.status = 'processing' AND NOT EXISTS (
           SELECT 1 FROM jobs j WHERE j.kind = 'validate' AND j.subject_id = c.id AND j.state IN ('queued', 'running'))`,
      ).map((r) => r.id as string),
  };

  // ---------- external account binding keys ----------

  eabKeys = {
    create: async (k: { id: string; directory: string; label: string; hmacKeyEnc: string; expiresAt: Date | null; now: Date }) => {
      this.run(
        'INSERT INTO eab_keys (id, directory, label, hmac_key_enc, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
        k.id,
        k.directory,
        k.label,
        k.hmacKeyEnc,
        k.now.getTime(),
        k.expiresAt?.getTime() ?? null,
      );
    },
    get: async (id: string) => {
      const r = this.one('SELECT * FROM eab_keys WHERE id = ?', id);
      return r ? rowToEabKey(r) : null;
    },
    list: async (directory: string) => this.all('SELECT * FROM eab_keys WHERE directory = ? ORDER BY created_at', directory).map(rowToEabKey),
    revoke: async (id: string, now: Date) =>
      this.run('UPDATE eab_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', now.getTime(), id) === 1,
  };

  // ---------- certificates ----------


  certificates = {
    get: async (id: string) => {
      const r = this.one('SELECT * FROM certificates WHERE id = ?', id);
      return r ? rowToCertificate(r) : null;
    },
    getBySerial: async (serialHex: string) => {
      const r = this.one('SELECT * FROM certificates WHERE serial_hex = ?', serialHex);
      return r ? rowToCertificate(r) : null;
    },
    recordOrphan: async (cert: IssuedCertificate, directory: string, orderId: string | null, now: Date) => {
      this.insertCertificate(cert, directory, orderId, null, now.getTime());
    },
    revoke: async (id: string, reason: number, now: Date) =>
      this.run(
        "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE id = ? AND status = 'valid'",
        now.getTime(),
        reason,
        id,
      ) === 1,
  };

  // ---------- issuance attempts ----------

  private finishAttemptSync(id: string, outcome: string, pcaSerial: string | null, error: string | null, nowMs: number): void {
    this.run(
      'UPDATE issuance_attempts SET outcome = ?, pca_serial = COALESCE(?, pca_serial), error = ?, finished_at = ? WHERE id = ?',
      outcome,
      pcaSerial,
      error,
      nowMs,
      id,
    );
  }

  issuance = {
    recordAttempt: async (a: { id: string; orderId: string; spkiSha256: string; startedAt: number }) => {
      this.run(
        "INSERT INTO issuance_attempts (id, order_id, spki_sha256, started_at, outcome) VALUES (?, ?, ?, ?, 'pending')",
        a.id,
        a.orderId,
        a.spkiSha256,
        a.startedAt,
      );
    },
    finishAttempt: async (id: string, outcome: 'issued' | 'failed' | 'unknown', pcaSerial: string | null, error: string | null, now: number) => {
      this.finishAttemptSync(id, outcome, pcaSerial, error, now);
    },
    attemptsForOrder: async (orderId: string): Promise<IssuanceAttempt[]> =>
      this.all('SELECT * FROM issuance_attempts WHERE order_id = ? ORDER BY started_at', orderId).map(rowToAttempt),
    latestForKey: async (spkiSha256: string): Promise<IssuanceAttempt | null> => {
      const r = this.one('SELECT * FROM issuance_attempts WHERE spki_sha256 = ? ORDER BY started_at DESC LIMIT 1', spkiSha256);
      return r ? rowToAttempt(r) : null;
    },
    earliestStartedAt: async (): Promise<number | null> => (this.one('SELECT MIN(started_at) AS t FROM issuance_attempts')?.t as number | null) ?? null,
  };

  // ---------- jobs ----------

  jobs = {
    claimDue: async (owner: string, nowMs: number, leaseMs: number, limit: number): Promise<Job[]> =>
      this.tx(() => {
        const due = this.all(
          `SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?)
           ORDER BY run_at LIMIT ?`,
          nowMs,
          nowMs,
          limit,
        );
        const claimed: Job[] = [];
        for (const { id } of due) {
          const n = this.run(
            `UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id = ? AND ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?))`,
            owner,
            nowMs + leaseMs,
            nowMs,
            id,
            nowMs,
            nowMs,
          );
          if (n === 1) claimed.push(rowToJob(this.one('SELECT * FROM jobs WHERE id = ?', id)!));
        }
        return claimed;
      }),
    reschedule: async (id: string, owner: string, runAt: number, error: string, nowMs: number) =>
      this.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        runAt,
        error,
        nowMs,
        id,
        owner,
      ) === 1,
    finish: async (id: string, state: 'done' | 'failed', error: string | null, nowMs: number) => {
      this.run(
        `UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND state IN ('queued', 'running')`,
        state,
        error,
        nowMs,
        id,
      );
    },
    releaseAll: async (owner: string, nowMs: number) =>
      this.run(
        `UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state = 'running' AND lease_owner = ?`,
        nowMs,
        owner,
      ),
    get: async (id: string) => {
      const r = this.one('SELECT * FROM jobs WHERE id = ?', id);
      return r ? rowToJob(r) : null;
    },
    countActive: async () => (this.one("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')")!.n as number),
    pruneFinished: async (beforeMs: number) => this.run("DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ?", beforeMs),
    requeueRunning: async (nowMs: number) =>
      this.run(
        `UPDATE jobs SET state = 'queued', run_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state = 'running'`,
        nowMs,
        nowMs,
      ),
    ensure: async (kind: JobKind, subjectId: string, job: NewJob, nowMs: number) =>
      this.tx(() => {
        const live = this.one("SELECT 1 FROM jobs WHERE kind = ? AND subject_id = ? AND state IN ('queued', 'running')", kind, subjectId);
        if (live) return false;
        this.insertJob(kind, subjectId, job, nowMs);
        return true;
      }),
  };

  async ping(): Promise<void> {
    this.one('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}

/** The sequence number after which a page starts; an unreadable cursor starts at the beginning. */
function decodeCursor(cursor: string): number {
  const m = /^s(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : 0;
}
