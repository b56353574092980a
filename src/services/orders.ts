import { X509Certificate } from 'node:crypto';
import { certificateNameKeys, checkCsr, spkiSha256OfJwk } from '../acme/csr.js';
import type { AddressPolicy } from '../acme/address-policy.js';
import { checkIdentifier, identifierKey, normalizeIdentifier } from '../acme/identifiers.js';
import type { IssuancePolicy } from '../acme/issuance-policy.js';
import { hasScopes, ScopeMatcher } from '../acme/preauthorization.js';
import { failedValidationSubject, rateLimitedProblem } from '../acme/rate-limits.js';
import { parseCertId } from '../acme/cert-id.js';
import { finalizePayload, newOrderPayload, parsePayload } from '../acme/payloads.js';
import { AcmeProblem } from '../acme/problems.js';
import { effectiveAuthzStatus, effectiveOrderStatus } from '../acme/status.js';
import type { Account, Identifier, Order } from '../acme/types.js';
import type { ValidityPolicy } from '../acme/validity.js';
import type { CaWatch } from '../pca/ca-status.js';
import { randomToken } from '../platform/random.js';
import type { EabKeyRecord, NewAuthorization } from '../store/types.js';
import { eabKeyOf } from './account-key.js';
import { newId, type ServiceContext } from './context.js';
import { concurrent, counted, limitsFor, underLimits, type Applied } from './rate-limits.js';

// Orders (RFC 8555 §7.4): creation with their authorizations, reading, listing and finalization.

/** An order with the status a client sees now (time and authorizations applied). */
export interface OrderView {
  order: Order;
  status: Order['status'];
}

export class OrderService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly validity: ValidityPolicy,
    /** The validator's address policy: an ip identifier it would refuse to connect to is refused here. */
    private readonly addressPolicy?: Pick<AddressPolicy, 'check'>,
    /** Issue 10: the directory's CA (its end, its key rule), so that what it cannot sign is refused up front. */
    private readonly ca?: Pick<CaWatch, 'checkNotAfter' | 'checkKeyType'>,
  ) {}

  async newOrder(account: Account, payload: Record<string, unknown> | null): Promise<OrderView> {
    const body = parsePayload(newOrderPayload, payload, 'newOrder');
    const identifiers: Identifier[] = [];
    const seen = new Set<string>();
    const problems: AcmeProblem[] = [];
    for (const raw of body.identifiers) {
      const id = { type: raw.type, value: raw.value } as Identifier;
      try {
        checkIdentifier(id);
        this.checkAddress(id);
      } catch (err) {
        if (err instanceof AcmeProblem) {
          problems.push(err);
          continue;
        }
        throw err;
      }
      const key = identifierKey(id);
      if (seen.has(key)) continue; // dropping duplicates is fine (interop item 18); the first spelling is echoed
      seen.add(key);
      identifiers.push(id);
    }
    if (problems.length === 1) throw problems[0]!;
    if (problems.length > 1) {
      const type = problems.every((p) => p.type === problems[0]!.type) ? problems[0]!.type : 'rejectedIdentifier';
      throw new AcmeProblem(type, `${problems.length} identifiers of the order cannot be issued`, { subproblems: problems });
    }

    // Issue 9: the directory's issuance policy, narrowed by the account's EAB key. It comes first:
    // a pre-authorized scope never widens it, and a refused order counts against no rate limit.
    const key = await eabKeyOf(this.ctx, account.eabKeyId);
    const policy = this.policyFrom(key);
    policy.checkOrder(identifiers);
    const scopes = this.scopesOf(key);

    const now = this.ctx.clock.now();
    const window = this.validity.resolve({ notBefore: body.notBefore, notAfter: body.notAfter, profile: body.profile }, now, policy.maxValidity());
    this.ca?.checkNotAfter(window.notAfter);
    const expires = new Date(now.getTime() + this.ctx.settings.orderLifetimeMs);
    const authzExpires = new Date(now.getTime() + this.ctx.settings.authorizationLifetimeMs);

    const authorizations: NewAuthorization[] = identifiers.map((id) => {
      const n = normalizeIdentifier(id);
      // An identifier inside a scope of the account's key is valid already, with no challenge.
      const scope = scopes?.match(n) ?? null;
      return {
        id: newId(this.ctx),
        identifier: { type: n.type, value: n.value },
        wildcard: n.wildcard,
        expires: authzExpires < expires ? authzExpires : expires,
        challenges: scope
          ? []
          : policy.challengesFor(n.type, n.wildcard).map((type) => ({
              id: newId(this.ctx),
              type,
              token: randomToken(this.ctx.random, 32),
            })),
        preauthorized: scope ? { eabKeyId: key!.id, scope } : null,
      };
    });
    const limits = limitsFor(this.ctx, key);
    const toValidate = authorizations.filter((a) => !a.preauthorized);
    await this.checkFailedValidations(account, toValidate, limits, now);
    const replacesCertificateId = await this.checkReplaces(account, identifiers, body.replaces);
    const order = await underLimits(
      this.ctx,
      limits,
      (name) =>
        name === 'pendingOrdersPerAccount'
          ? { what: 'pending orders for this account', hint: "(when the oldest pending order expires; validating or deactivating an order's authorizations frees one sooner)" }
          : { what: 'new orders for this account' },
      () =>
        this.ctx.store.orders.createWithAuthorizations({
          id: newId(this.ctx),
          directory: account.directory,
          accountId: account.id,
          identifiers,
          notBefore: window.notBefore,
          notAfter: window.notAfter,
          profile: window.profile,
          replaces: body.replaces ?? null,
          replacesCertificateId,
          eabKeyId: account.eabKeyId,
          expires,
          authorizations,
          now,
          limits: {
            newOrders: counted(limits.newOrdersPerAccount, account.id),
            // An order every identifier of which is pre-authorized is ready at once: never pending.
            pendingOrders: toValidate.length ? concurrent(limits.pendingOrdersPerAccount) : null,
          },
        }),
      { accountId: account.id },
    );
    this.ctx.metrics.orders.inc({ event: 'created' });
    this.ctx.logger.info({ orderId: order.id, accountId: account.id, identifiers: identifiers.map((i) => i.value) }, 'order created');
    for (const a of authorizations) {
      if (!a.preauthorized) continue;
      // Every use is in the database (preauthorization_uses, same write as the order) and here.
      this.ctx.logger.info(
        { orderId: order.id, accountId: account.id, authzId: a.id, eabKeyId: a.preauthorized.eabKeyId, identifier: a.identifier, wildcard: a.wildcard, scope: a.preauthorized.scope },
        'identifier pre-authorized by the EAB key: authorization valid with no challenge',
      );
    }
    return { order, status: order.status };
  }

  /**
   * failedValidationsPerIdentifier: an identifier whose validations for this account failed that
   * often in the last hour is refused until the oldest failure leaves the hour (counted by the
   * validation job in the write that records the failure). One problem per refused identifier.
   */
  private async checkFailedValidations(account: Account, authzs: NewAuthorization[], limits: Applied, now: Date): Promise<void> {
    const applied = limits.failedValidationsPerIdentifier;
    const refused: Array<{ problem: AcmeProblem; until: number; value: string }> = [];
    for (const a of authzs) {
      const limit = counted(applied, failedValidationSubject(account.id, a.identifier));
      const until = limit ? await this.ctx.store.rateLimits.check(limit, now) : null;
      if (until === null) continue;
      const problem = rateLimitedProblem(applied, `failed validations of "${a.identifier.value}" for this account`, until, now.getTime(), { identifier: a.identifier });
      refused.push({ problem, until, value: a.identifier.value });
    }
    if (refused.length === 0) return;
    this.ctx.logger.info({ accountId: account.id, limit: applied.name, identifiers: refused.map((r) => r.value) }, 'rate limited');
    if (refused.length === 1) throw refused[0]!.problem;
    // The order passes only once every identifier does: the longest wait is the client's.
    const names = refused.map((r) => `"${r.value}"`).join(', ');
    const top = rateLimitedProblem(applied, `failed validations of ${names} for this account`, Math.max(...refused.map((r) => r.until)), now.getTime());
    throw new AcmeProblem('rateLimited', top.detail, { subproblems: refused.map((r) => r.problem), ...(top.headers ? { headers: top.headers } : {}) });
  }

  /** The key's scopes where the directory lets them apply (policy.preAuthorization) and the key is not revoked. */
  private scopesOf(key: EabKeyRecord | null): ScopeMatcher | null {
    if (!this.ctx.settings.preAuthorization || !key || key.revokedAt || !hasScopes(key.preauthorizedScopes)) return null;
    return new ScopeMatcher(key.preauthorizedScopes);
  }

  /** Issue 9: no authorization for an address the validator must not connect to (metadata, loopback, ...). */
  private checkAddress(id: Identifier): void {
    if (id.type !== 'ip' || !this.addressPolicy) return;
    const verdict = this.addressPolicy.check(id.value);
    if (!verdict.allowed) {
      throw new AcmeProblem('rejectedIdentifier', `${verdict.reason}: the validation address policy does not allow it`, { identifier: { type: id.type, value: id.value } });
    }
  }

  /** The directory's policy narrowed by the EAB key's rules (acme/issuance-policy.ts: a key only narrows). */
  private policyFrom(key: EabKeyRecord | null): IssuancePolicy {
    const policy = this.ctx.settings.policy;
    return key?.policy ? policy.narrowedBy({ source: `EAB key ${key.id}`, rules: key.policy }) : policy;
  }

  /**
   * RFC 9773 §5 `replaces`: a certificate of this account, sharing a name with the new order, not yet
   * replaced; otherwise 409 alreadyReplaced, which lego, acmez, Posh, acme.sh and cert-manager retry
   * without. An unknown or unparsable certID (another directory's included) is ignored: Caddy sends
   * it on every renewal, even to servers without ARI, and it must never break an otherwise fine
   * renewal (interop item 36).
   */
  private async checkReplaces(account: Account, identifiers: Identifier[], replaces: string | undefined): Promise<string | null> {
    if (!replaces) return null;
    const parsed = parseCertId(replaces);
    if (!parsed) return null;
    const cert = await this.ctx.store.certificates.getBySerial(parsed.serialHex);
    // Another directory's certificate is unknown here, like its accounts (issue 9).
    if (!cert || cert.directory !== account.directory || (cert.akiB64 && cert.akiB64 !== parsed.akiB64)) return null;
    if (cert.accountId !== account.id) {
      throw new AcmeProblem('alreadyReplaced', `certificate ${replaces} was not issued to this account`);
    }
    const wanted = new Set(identifiers.map(identifierKey));
    const shared = certificateNameKeys(new X509Certificate(cert.leafPem)).some((k) => wanted.has(k));
    if (!shared) throw new AcmeProblem('alreadyReplaced', `certificate ${replaces} shares no identifier with this order`);
    if (cert.replacedByOrderId || (await this.ctx.store.orders.findReplacing(cert.id))) {
      throw new AcmeProblem('alreadyReplaced', `certificate ${replaces} has already been replaced by another order`);
    }
    return cert.id;
  }

  /** An order of this account with its current status, or a 404 problem (another account's order too). */
  async view(account: Account, orderId: string): Promise<OrderView> {
    const order = await this.ctx.store.orders.get(orderId);
    if (!order || order.accountId !== account.id) throw new AcmeProblem('malformed', 'no such order', { status: 404 });
    return this.withStatus(order);
  }

  async withStatus(order: Order): Promise<OrderView> {
    if (order.status !== 'pending' && order.status !== 'ready') return { order, status: order.status };
    const authzs = await this.ctx.store.authorizations.getMany(order.authzIds);
    const now = this.ctx.clock.now();
    return { order, status: effectiveOrderStatus(order, authzs.map((a) => effectiveAuthzStatus(a, now)), now) };
  }

  async list(account: Account, cursor: string | null, limit = 100) {
    return this.ctx.store.orders.listForAccount(account.id, cursor, limit);
  }

  /**
   * RFC 8555 §7.4: check the CSR, move ready → processing and queue the issuance job in one
   * conditional write, then wait a short while for the job so most clients get `valid` at once.
   */
  async finalize(account: Account, orderId: string, payload: Record<string, unknown> | null): Promise<OrderView> {
    const current = await this.view(account, orderId);
    if (current.status !== 'ready') {
      throw new AcmeProblem('orderNotReady', `the order is ${current.status}, not ready`);
    }
    const body = parsePayload(finalizePayload, payload, 'finalize');
    // The policy as it is now (a restart may have tightened it since newOrder), narrowed by the order's EAB key.
    const policy = this.policyFrom(await eabKeyOf(this.ctx, current.order.eabKeyId));
    policy.checkOrder(current.order.identifiers);
    const der = Buffer.from(body.csr, 'base64url');
    const checked = await checkCsr(der, current.order.identifiers, this.ctx.settings.profileKeyTypes(current.order.profile));
    policy.checkKey(checked.keyType);
    this.ca?.checkKeyType(checked.keyType);
    // RFC 8555 §11.1: the certificate's key must not be the account key.
    if (checked.spkiSha256 === spkiSha256OfJwk(account.jwk)) {
      throw new AcmeProblem('badCSR', "the CSR's public key is the account key; use a separate key for the certificate (RFC 8555 §11.1)");
    }
    const now = this.ctx.clock.now();
    const job = this.ctx.jobs.startJob('issue', now);
    let moved = false;
    try {
      moved = await this.ctx.store.orders.markProcessing(orderId, { der: checked.der, spkiSha256: checked.spkiSha256 }, job, now);
    } finally {
      this.ctx.jobs.started('issue', orderId, job, moved);
    }
    if (!moved) throw new AcmeProblem('orderNotReady', 'the order is no longer ready (finalized concurrently?)');
    this.ctx.metrics.orders.inc({ event: 'finalized' });
    return this.waitWhileProcessing(account, orderId, this.ctx.settings.finalizeWaitMs);
  }

  /**
   * Waits (real time, bounded by finalizeWaitMs) for the issuance job: woken by each run of the job in
   * this process, and re-reading at least every 250 ms for a job that another process runs.
   */
  private async waitWhileProcessing(account: Account, orderId: string, waitMs: number): Promise<OrderView> {
    const deadline = Date.now() + waitMs;
    let view = await this.view(account, orderId);
    while (view.status === 'processing' && Date.now() < deadline && !this.ctx.jobs.waitsStopped) {
      await this.ctx.jobs.waitForRun('issue', orderId, Math.min(250, deadline - Date.now()));
      view = await this.view(account, orderId);
    }
    return view;
  }
}

