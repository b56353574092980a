import type { X509Certificate } from 'node:crypto';
import { csrSpkiSha256 } from '../acme/csr.js';
import { checkIssued } from '../acme/issued-check.js';
import { toPem } from '../acme/pem.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Order } from '../acme/types.js';
import type { ValidityPolicy } from '../acme/validity.js';
import type { CaWatch } from '../pca/ca-status.js';
import { PcaError } from '../pca/errors.js';
import { issuedCertificate } from '../pca/issued.js';
import { describePcaError, problemFromPcaError } from '../pca/problems.js';
import type { PcaClient } from '../pca/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { CaaRecheck } from './caa-recheck.js';
import type { OpsEventSink } from '../acme/ops-events.js';
import { timeOrderedId, type Random } from '../platform/random.js';
import type { Job, Store } from '../store/types.js';
import { PcaCertificateSearch } from './pca-search.js';
import { FOLLOW_UP_RETRY_MS, FOLLOW_UP_WINDOW_MS, LATE_SEARCH_BUDGET_MS, Reconciler } from './reconcile.js';
import { RetryLater, type JobHandler } from './runner.js';

// The issuance job (RFC 8555 §7.4 finalize, done in the background): run, give up, accept. The
// attempt is recorded before the sign call; when an earlier attempt's outcome is unknown, the
// reconciler (reconcile.ts) looks for what the PCA issued before anything is signed again.

export interface IssuanceJobDeps {
  store: Store;
  pca: PcaClient;
  validity: ValidityPolicy;
  trustAnchors: () => X509Certificate[];
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Shared with the audit so both use one cache of PCA certificate facts. */
  search?: PcaCertificateSearch;
  /** acme_orders_total{event="valid"|"invalid"} move here, when issuance settles an order. */
  metrics?: Metrics;
  /** CAA rechecked before signing (issue 9); absent when CAA is off. */
  caaRecheck?: Pick<CaaRecheck, 'problemFor'>;
  /** The issuance policy's maxValidityDays for the order (issue 9; issue-by-directory.ts validityCapOf): the period asked never exceeds it. */
  validityCap?: (order: Order) => Promise<number | null>;
  /** Issue 10: the directory's CA as last read (pca/ca-status.ts): waits while it is not ACTIVE, caps the period at its end. */
  ca?: Pick<CaWatch, 'signLimits' | 'refreshIfOlderThan'>;
  /** The audit trail and webhooks: certificate.issued and order.failed. */
  events?: OpsEventSink;
}

/** While the CA cannot sign (not ACTIVE), the job looks again this often; the CA is read again first when older. */
const CA_WAIT_MS = 15_000;

export class IssuanceJob implements JobHandler {
  private readonly reconciler: Reconciler;

  constructor(private readonly d: IssuanceJobDeps) {
    // Per-instance (not module) search, whose cache of PCA certificate facts lives as long as the job;
    // deps.ts passes the directory's one search, shared with its audit.
    const search = d.search ?? new PcaCertificateSearch({ pca: d.pca, ca: 'default', store: d.store, clock: d.clock, logger: d.logger });
    this.reconciler = new Reconciler({ store: d.store, pca: d.pca, search, clock: d.clock, random: d.random });
  }

  async run(job: Job): Promise<void> {
    const { store, clock } = this.d;
    const order = await store.orders.get(job.subjectId);
    if (!order) {
      await store.jobs.finish(job.id, 'done', 'order gone', clock.nowMs());
      return;
    }
    const unsettled = (await store.issuance.attemptsForOrder(order.id)).filter((a) => a.outcome === 'pending' || a.outcome === 'unknown');
    const log = this.d.logger.child({ orderId: order.id, jobId: job.id });
    if (order.status !== 'processing') {
      // A follow-up job (see giveUp): the order has ended, but a sign call's outcome is still unknown.
      if (unsettled.length > 0) await this.reconciler.recordLateIssuance(order, unsettled, clock.nowMs() + LATE_SEARCH_BUDGET_MS, log);
      await store.jobs.finish(job.id, 'done', 'order no longer processing', clock.nowMs());
      return;
    }
    const csrDer = await store.orders.getCsr(order.id);
    if (!csrDer) {
      await this.fail(order, new AcmeProblem('serverInternal', 'the order has no CSR recorded'));
      return;
    }
    const spki = csrKeyHashOf(order, csrDer);
    // Without a trust anchor nothing the PCA returns could be checked: wait (the PCA chain is fetched
    // again in the background) rather than sign and then reject a good certificate.
    if (this.d.trustAnchors().length === 0) throw new RetryLater('waiting for the PCA trust anchor (CA chain not fetched yet)');

    if (unsettled.length > 0) {
      const adopted = await this.reconciler.reconcile(order, spki, unsettled, job.deadlineAt, log, this.accept);
      if (adopted) return;
      // A slow search must not stretch the order past its deadline with one more sign call.
      if (clock.nowMs() > job.deadlineAt) throw new RetryLater('the issuance deadline passed while reconciling');
    }

    // CAA again before a new sign, when the check at validation time is older than the recheck
    // window (RFC 8659 §3; jobs/caa-recheck.ts). Not before reconciliation: a certificate the PCA
    // already issued is adopted, never thrown away.
    const caaProblem = await this.d.caaRecheck?.problemFor(order);
    if (caaProblem) {
      log.info({ problem: caaProblem.toDocument() }, 'CAA forbids issuance at finalize');
      await this.fail(order, caaProblem);
      return;
    }

    // Issue 10: what the CA allows now (Get CA): wait while it is not ACTIVE, never ask past its end.
    const limits = await this.caLimits();
    if (limits.kind === 'wait') throw new RetryLater(limits.reason, CA_WAIT_MS);
    if (limits.kind === 'fail') {
      log.warn({ problem: limits.problem.detail }, 'the Private CA cannot sign this order');
      await this.fail(order, limits.problem);
      return;
    }
    let period = this.d.validity.periodFor(order, clock.now(), (await this.d.validityCap?.(order)) ?? null);
    if (limits.maxPeriodDays !== null && period > limits.maxPeriodDays) {
      log.info({ asked: period, period: limits.maxPeriodDays }, "period capped at the Private CA's end");
      period = limits.maxPeriodDays;
    }

    const attemptId = timeOrderedId(this.d.random, clock.nowMs());
    await store.issuance.recordAttempt({ id: attemptId, orderId: order.id, spkiSha256: spki, startedAt: clock.nowMs() });
    let result;
    try {
      result = await this.d.pca.sign(toPem('CERTIFICATE REQUEST', csrDer), { period, ...(limits.caKey ? { caKey: limits.caKey } : {}) });
    } catch (err) {
      if (err instanceof PcaError) {
        const unknown = err.outcomeUnknown;
        await store.issuance.finishAttempt(attemptId, unknown ? 'unknown' : 'failed', null, describePcaError(err), clock.nowMs());
        if (err.retryable) {
          log.warn({ pca: describePcaError(err), reason: err.reason, outcomeUnknown: unknown }, 'PCA sign failed; will retry');
          throw new RetryLater(`PCA sign failed: ${describePcaError(err)}`);
        }
        log.warn({ pca: describePcaError(err), reason: err.reason }, 'PCA refused to sign');
        await this.fail(order, problemFromPcaError(err));
        return;
      }
      await store.issuance.finishAttempt(attemptId, 'unknown', null, String(err), clock.nowMs());
      throw err;
    }
    await this.accept(order, attemptId, spki, result.leafPem, result.chainPems, result.serialNo, log);
  }

  async giveUp(job: Job, error: unknown): Promise<void> {
    const { store, clock } = this.d;
    const order = await store.orders.get(job.subjectId);
    if (!order) {
      await store.jobs.finish(job.id, 'failed', String(error), clock.nowMs());
      return;
    }
    const log = this.d.logger.child({ orderId: order.id, jobId: job.id });
    const unsettled = (await store.issuance.attemptsForOrder(order.id)).filter((a) => a.outcome === 'pending' || a.outcome === 'unknown');
    if (order.status !== 'processing') {
      // The follow-up window closed and the PCA never let us look: say so loudly, keep the attempts 'unknown'.
      log.error({ attempts: unsettled.map((a) => a.id), err: errorText(error) }, 'could not learn whether the PCA issued for this order; check the PCA for certificates with its key');
      await store.jobs.finish(job.id, 'failed', `reconciliation gave up: ${errorText(error)}`, clock.nowMs());
      return;
    }
    // Before ending the order, one last look: a certificate the PCA issued is better adopted than lost.
    let stillUnknown = false;
    if (unsettled.length > 0) {
      const csrDer = await store.orders.getCsr(order.id);
      try {
        if (csrDer && (await this.reconciler.reconcile(order, csrKeyHashOf(order, csrDer), unsettled, clock.nowMs() + LATE_SEARCH_BUDGET_MS, log, this.accept))) return;
      } catch (err) {
        stillUnknown = true;
        log.warn({ err: errorText(err) }, 'reconciliation at the deadline failed; a follow-up job keeps looking');
      }
    }
    const problem =
      error instanceof PcaError
        ? problemFromPcaError(error)
        : new AcmeProblem('serverInternal', `the Private CA did not issue before the deadline (${errorText(error)}); try again later`);
    log.error({ err: errorText(error) }, 'issuance gave up');
    await this.fail(order, problem, stillUnknown);
    if (stillUnknown) {
      // The attempts are not known to have failed: mark them unknown and leave a job that finds and
      // records whatever the PCA issued for them.
      const now = clock.nowMs();
      for (const a of unsettled) await store.issuance.finishAttempt(a.id, 'unknown', null, 'outcome unknown when the order ended', now);
      const id = timeOrderedId(this.d.random, now);
      await store.jobs.ensure('issue', order.id, { id, runAt: now + FOLLOW_UP_RETRY_MS, deadlineAt: now + FOLLOW_UP_WINDOW_MS }, now);
    }
  }

  /**
   * Checks what the PCA returned and attaches it to the order, or ends the order invalid. The leaf is
   * parsed once, by the check; assembly reuses the facts it read.
   */
  private readonly accept = async (order: Order, attemptId: string, spki: string, leafPem: string, chainPems: string[], pcaSerial: string, log: Logger): Promise<void> => {
    const { store, clock } = this.d;
    const check = checkIssued(leafPem, chainPems, { spkiSha256: spki, identifiers: order.identifiers }, this.d.trustAnchors(), clock.now());
    const cert = issuedCertificate(leafPem, chainPems, pcaSerial, timeOrderedId(this.d.random, clock.nowMs()), check.facts);
    if (!check.ok) {
      // Never serve a wrong certificate; keep it on record (the PCA did issue it) and end the order.
      log.error({ reason: check.reason, pcaSerial }, 'the PCA returned a wrong certificate; order ends invalid');
      if (cert) await store.certificates.recordOrphan(cert, order.directory, order.id, clock.now());
      await store.issuance.finishAttempt(attemptId, 'issued', pcaSerial, `rejected: ${check.reason}`, clock.nowMs());
      await this.fail(order, new AcmeProblem('serverInternal', `the Private CA returned an unusable certificate: ${check.reason}`));
      return;
    }
    const done = await store.orders.completeIssuance(order.id, attemptId, cert!, clock.now());
    if (done) {
      this.d.metrics?.orders.inc({ event: 'valid' });
      log.info({ serial: pcaSerial, notAfter: check.facts.notAfter.toISOString() }, 'certificate issued');
      await this.d.events?.record({
        action: 'certificate.issued',
        notify: 'certificate.issued',
        directory: order.directory,
        accountId: order.accountId,
        orderId: order.id,
        certificateId: cert!.id,
        serialHex: cert!.serialHex,
        detail: { names: order.identifiers.map((i) => i.value), notAfter: cert!.notAfter.toISOString() },
      });
    }
    else log.warn({ serial: pcaSerial }, 'certificate issued for an order that had already settled; kept unattached');
  }

  /** The CA's limits now; a CA that says "wait" is read again first when the last read is not fresh. */
  private async caLimits(): Promise<ReturnType<CaWatch['signLimits']>> {
    const ca = this.d.ca;
    if (!ca) return { kind: 'sign', maxPeriodDays: null };
    let limits = ca.signLimits(this.d.clock.now());
    if (limits.kind === 'wait') {
      await ca.refreshIfOlderThan(CA_WAIT_MS);
      limits = ca.signLimits(this.d.clock.now());
    }
    return limits;
  }

  /** Ends the order invalid; its open attempts failed too, unless a sign call's outcome is in doubt. */
  private async fail(order: Order, problem: AcmeProblem, attemptsOutcomeUnknown = false): Promise<void> {
    if (await this.d.store.orders.fail(order.id, problem.toDocument(), this.d.clock.now())) {
      this.d.metrics?.orders.inc({ event: 'invalid' });
      await this.d.events?.record({
        action: 'order.failed',
        notify: 'order.failed',
        directory: order.directory,
        accountId: order.accountId,
        orderId: order.id,
        detail: { names: order.identifiers.map((i) => i.value), problem: problem.toDocument() },
      });
    }
    if (!attemptsOutcomeUnknown) await this.d.store.issuance.failOpenAttempts(order.id, problem.detail, this.d.clock.nowMs());
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The SHA-256 of the CSR's SubjectPublicKeyInfo (hex): what the issued certificate and any PCA
 * certificate found by reconciliation must carry. Finalize stores it with the CSR, so the job does
 * not parse the CSR again; orders finalized before migration 006 have none and are computed.
 */
export function csrKeyHashOf(order: Order, csrDer: Buffer): string {
  return order.csrSpkiSha256 ?? csrSpkiSha256(csrDer);
}
