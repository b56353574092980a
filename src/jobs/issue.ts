import { X509Certificate } from 'node:crypto';
import { csrSpkiSha256 } from '../acme/csr.js';
import { toPem } from '../acme/pem.js';
import { checkIssued, factsOf } from '../acme/issued-check.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Order } from '../acme/types.js';
import type { ValidityPolicy } from '../acme/validity.js';
import { PcaError } from '../pca/errors.js';
import { describePcaError, problemFromPcaError } from '../pca/problems.js';
import type { PcaClient } from '../pca/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Random } from '../platform/random.js';
import type { IssuanceAttempt, IssuedCertificate, Job, Store } from '../store/types.js';
import { PcaCertificateSearch, SearchIncomplete, type PcaCertFacts } from './pca-search.js';
import { RetryLater, type JobHandler } from './runner.js';

// The issuance job (RFC 8555 §7.4 finalize, done in the background). Exactly-once as far as the PCA
// allows: the attempt is recorded before the sign call; when an earlier attempt's outcome is unknown
// (crash, timeout, dropped connection), the PCA's own list is searched for a certificate with the
// CSR's key, issued after that attempt started, and adopted instead of signing again.

/** How far back before an attempt's start a PCA certificate still counts (clock skew between us and the PCA). */
const RECONCILE_SKEW_MS = 5 * 60_000;
/** PCAs back-date notBefore a little (the simulator by 60 s); a certificate this much older still counts. */
const NOT_BEFORE_BACKDATE_MS = 2 * 60_000;
/** Upper bound on getCert calls one reconciliation may make; past it the search is incomplete, not empty. */
const RECONCILE_MAX_LOOKUPS = 2_000;
/**
 * After an order ended while a sign call's outcome was still unknown, how long a follow-up job keeps
 * looking for that certificate on the PCA so it is recorded (issue 4: "never lose a certificate").
 */
const FOLLOW_UP_WINDOW_MS = 24 * 3_600_000;
/** Retry pace of that follow-up job (its searches are cheap: one list call plus cached lookups). */
const FOLLOW_UP_RETRY_MS = 5_000;
/** Time a reconciliation may take when the job is at its deadline or following up, so it cannot hang on. */
const LATE_SEARCH_BUDGET_MS = 15_000;

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
}

export class IssuanceJob implements JobHandler {
  /** Per-instance (not module) search, whose cache of PCA certificate facts lives as long as the job. */
  private readonly search: PcaCertificateSearch;

  constructor(private readonly d: IssuanceJobDeps) {
    this.search = d.search ?? new PcaCertificateSearch(d.pca);
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
      if (unsettled.length > 0) await this.recordLateIssuance(order, unsettled, clock.nowMs() + LATE_SEARCH_BUDGET_MS, log);
      await store.jobs.finish(job.id, 'done', 'order no longer processing', clock.nowMs());
      return;
    }
    const csrDer = await store.orders.getCsr(order.id);
    if (!csrDer) {
      await this.fail(order, new AcmeProblem('serverInternal', 'the order has no CSR recorded'));
      return;
    }
    const spki = csrSpkiSha256(csrDer);
    // Without a trust anchor nothing the PCA returns could be checked: wait (the PCA chain is fetched
    // again in the background) rather than sign and then reject a good certificate.
    if (this.d.trustAnchors().length === 0) throw new RetryLater('waiting for the PCA trust anchor (CA chain not fetched yet)');

    if (unsettled.length > 0) {
      const adopted = await this.reconcile(order, spki, unsettled, job.deadlineAt, log);
      if (adopted) return;
      // A slow search must not stretch the order past its deadline with one more sign call.
      if (clock.nowMs() > job.deadlineAt) throw new RetryLater('the issuance deadline passed while reconciling');
    }

    const attemptId = this.d.random.bytes(12).toString('base64url');
    await store.issuance.recordAttempt({ id: attemptId, orderId: order.id, spkiSha256: spki, startedAt: clock.nowMs() });
    const period = this.d.validity.periodFor(order, clock.now());
    let result;
    try {
      result = await this.d.pca.sign(toPem('CERTIFICATE REQUEST', csrDer), { period });
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
        if (csrDer && (await this.reconcile(order, csrSpkiSha256(csrDer), unsettled, clock.nowMs() + LATE_SEARCH_BUDGET_MS, log))) return;
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
    await this.fail(order, problem);
    if (stillUnknown) {
      // orders.fail() closed the attempts as failed; they are not known to have failed. Reopen them and
      // leave a job that finds and records whatever the PCA issued for them.
      const now = clock.nowMs();
      for (const a of unsettled) await store.issuance.finishAttempt(a.id, 'unknown', null, 'outcome unknown when the order ended', now);
      const id = this.d.random.bytes(12).toString('base64url');
      await store.jobs.ensure('issue', order.id, { id, runAt: now + FOLLOW_UP_RETRY_MS, deadlineAt: now + FOLLOW_UP_WINDOW_MS }, now);
    }
  }

  /** Checks what the PCA returned and attaches it to the order, or ends the order invalid. */
  private async accept(order: Order, attemptId: string | null, spki: string, leafPem: string, chainPems: string[], pcaSerial: string, log: Logger): Promise<void> {
    const { store, clock } = this.d;
    const check = checkIssued(leafPem, chainPems, { spkiSha256: spki, identifiers: order.identifiers }, this.d.trustAnchors(), clock.now());
    const cert = this.toIssued(leafPem, chainPems, pcaSerial);
    if (!check.ok) {
      // Never serve a wrong certificate; keep it on record (the PCA did issue it) and end the order.
      log.error({ reason: check.reason, pcaSerial }, 'the PCA returned a wrong certificate; order ends invalid');
      if (cert) await store.certificates.recordOrphan(cert, order.directory, order.id, clock.now());
      if (attemptId) await store.issuance.finishAttempt(attemptId, 'issued', pcaSerial, `rejected: ${check.reason}`, clock.nowMs());
      await this.fail(order, new AcmeProblem('serverInternal', `the Private CA returned an unusable certificate: ${check.reason}`));
      return;
    }
    const done = await store.orders.completeIssuance(order.id, attemptId, cert!, clock.now());
    if (done) log.info({ serial: pcaSerial, notAfter: check.facts.notAfter.toISOString() }, 'certificate issued');
    else log.warn({ serial: pcaSerial }, 'certificate issued for an order that had already settled; kept unattached');
  }

  private toIssued(leafPem: string, chainPems: string[], pcaSerial: string): IssuedCertificate | null {
    return issuedCertificate(leafPem, chainPems, pcaSerial, this.d.random.bytes(12).toString('base64url'));
  }

  /**
   * Looks on the PCA for certificates with the CSR's key issued since the earliest unsettled attempt.
   * Adopts one for the order and records any others, so none is lost. Returns true when adopted.
   * Throws (the outcome stays unknown) when the PCA cannot be searched completely.
   */
  private async reconcile(order: Order, spki: string, unsettled: IssuanceAttempt[], searchEndsAt: number, log: Logger): Promise<boolean> {
    const { store, clock } = this.d;
    const found = await this.findIssued(spki, Math.min(...unsettled.map((a) => a.startedAt)), searchEndsAt);
    if (found.length === 0) {
      for (const a of unsettled) await store.issuance.finishAttempt(a.id, 'failed', null, 'not issued (reconciled)', clock.nowMs());
      log.info({ attempts: unsettled.length }, 'reconciliation: the PCA issued nothing for the earlier attempt(s); signing again');
      return false;
    }
    // The oldest is adopted, the same one on every run: extras are recorded first, so a crash in
    // between must not turn an extra already on record into the adopted one (or lose it).
    const [adopt, ...extra] = found;
    for (const e of extra) {
      const cert = this.toIssued(e.certPem, e.caChainPems, e.serialNo);
      if (cert) await store.certificates.recordOrphan(cert, order.directory, order.id, clock.now());
      log.warn({ serial: e.serialNo }, 'reconciliation: extra certificate for the same key recorded as orphan');
    }
    log.info({ serial: adopt!.serialNo }, 'reconciliation: adopting the certificate the PCA issued for the earlier attempt');
    const chain = adopt!.caChainPems.length ? adopt!.caChainPems : await this.d.pca.chain();
    // The attempts are settled only after the certificate is attached: settled first, a crash in
    // between would leave nothing to reconcile and the order would be signed a second time.
    const [newest, ...older] = [...unsettled].sort((a, b) => b.startedAt - a.startedAt);
    await this.accept(order, newest!.id, spki, adopt!.certPem, chainWithoutRootUnlessNeeded(adopt!.certPem, chain), adopt!.serialNo, log);
    for (const a of older) await store.issuance.finishAttempt(a.id, 'issued', adopt!.serialNo, 'adopted by reconciliation', clock.nowMs());
    return true;
  }

  /** For an order that already ended: record whatever the PCA issued for its unsettled attempts. */
  private async recordLateIssuance(order: Order, unsettled: IssuanceAttempt[], searchEndsAt: number, log: Logger): Promise<void> {
    const { store, clock } = this.d;
    const spki = unsettled[0]!.spkiSha256;
    let found: PcaCertFacts[];
    try {
      found = await this.findIssued(spki, Math.min(...unsettled.map((a) => a.startedAt)), searchEndsAt);
    } catch (err) {
      throw new RetryLater(`follow-up reconciliation failed: ${errorText(err)}`, FOLLOW_UP_RETRY_MS);
    }
    for (const f of found) {
      const cert = this.toIssued(f.certPem, f.caChainPems, f.serialNo);
      if (cert) await store.certificates.recordOrphan(cert, order.directory, order.id, clock.now());
      log.warn({ serial: f.serialNo, orderStatus: order.status }, 'reconciliation: the PCA issued for an order that had already ended; recorded as orphan');
    }
    for (const a of unsettled) {
      await store.issuance.finishAttempt(a.id, found.length ? 'issued' : 'failed', found[0]?.serialNo ?? null, found.length ? 'recorded as orphan after the order ended' : 'not issued (reconciled after the order ended)', clock.nowMs());
    }
  }

  /**
   * Every PCA certificate for `spki` whose notBefore is no older than `sinceMs` (less clock skew and
   * back-dating), oldest first. The list API pages serials only and its order is undocumented
   * (ncp-pca-api §3.4, §4.11), so the direction is read off the data, the walk starts at the newest
   * end and stops at the first certificate too old to be ours. Past `searchEndsAt` it gives up
   * (throws): an unfinished search proves nothing.
   */
  private async findIssued(spki: string, sinceMs: number, searchEndsAt: number): Promise<PcaCertFacts[]> {
    const { clock } = this.d;
    const since = sinceMs - RECONCILE_SKEW_MS - NOT_BEFORE_BACKDATE_MS;
    const found = new Map<string, PcaCertFacts>();
    await this.search.walkNewestFirst(
      (facts) => {
        if (facts.notBeforeMs < since) return false; // from here on, every certificate is older
        if (facts.spkiSha256 === spki) found.set(facts.serialNo, facts);
        return true;
      },
      {
        maxLookups: RECONCILE_MAX_LOOKUPS,
        beforeLookup: () => {
          if (clock.nowMs() > searchEndsAt) throw new SearchIncomplete('reconciliation incomplete: out of time');
        },
      },
    );
    return sortOldestFirst([...found.values()]);
  }

  private async fail(order: Order, problem: AcmeProblem): Promise<void> {
    await this.d.store.orders.fail(order.id, problem.toDocument(), this.d.clock.now());
  }
}

function sortOldestFirst(list: PcaCertFacts[]): PcaCertFacts[] {
  return list.sort((x, y) => x.notBeforeMs - y.notBeforeMs || x.serialNo.localeCompare(y.serialNo));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the store keeps of a certificate the PCA issued; null when the leaf cannot be parsed. */
export function issuedCertificate(leafPem: string, chainPems: string[], pcaSerial: string, id: string): IssuedCertificate | null {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch {
    return null;
  }
  const facts = factsOf(leaf);
  return {
    id,
    serialHex: facts.serialHex,
    pcaSerial,
    leafPem: normalizePem(leafPem),
    fullchainPem: [leafPem, ...chainPems].map(normalizePem).join(''),
    spkiSha256: facts.spkiSha256,
    akiB64: facts.akiB64,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
  };
}

/** PEM with LF line ends and exactly one trailing newline (interop item 32). */
export function normalizePem(pem: string): string {
  return `${pem.replace(/\r\n/g, '\n').trim()}\n`;
}

/**
 * Orders a CA list issuer-first starting from the leaf's issuer, leaving the self-signed root out
 * unless the leaf hangs directly off it (then the chain would be empty; interop item 32).
 */
export function chainWithoutRootUnlessNeeded(leafPem: string, caPems: string[]): string[] {
  const certs = caPems.map((p) => ({ pem: p, x: new X509Certificate(p) }));
  const out: string[] = [];
  let current = new X509Certificate(leafPem);
  for (let i = 0; i < certs.length; i++) {
    const parent = certs.find((c) => current.checkIssued(c.x) && !out.includes(c.pem));
    if (!parent) break;
    const selfSigned = parent.x.checkIssued(parent.x);
    if (selfSigned && out.length > 0) break;
    out.push(parent.pem);
    if (selfSigned) break;
    current = parent.x;
  }
  return out;
}
