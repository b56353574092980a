import { X509Certificate } from 'node:crypto';
import { csrSpkiSha256, pemFromDer } from '../acme/csr.js';
import { checkIssued, factsOf, spkiSha256OfCert } from '../acme/issued-check.js';
import { AcmeProblem } from '../acme/problems.js';
import type { Order } from '../acme/types.js';
import { PcaError } from '../pca/errors.js';
import type { PcaClient } from '../pca/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Random } from '../platform/random.js';
import type { ValidityPolicy } from '../services/validity.js';
import type { IssuanceAttempt, IssuedCertificate, Job, Store } from '../store/types.js';
import { describePcaError, problemFromPcaError } from './pca-problem.js';
import { RetryLater, type JobHandler } from './runner.js';

// The issuance job (RFC 8555 §7.4 finalize, done in the background). Exactly-once as far as the PCA
// allows: the attempt is recorded before the sign call; when an earlier attempt's outcome is unknown
// (crash, timeout, dropped connection), the PCA's own list is searched for a certificate with the
// CSR's key, issued after that attempt started, and adopted instead of signing again.

/** How far back before an attempt's start a PCA certificate still counts (clock skew between us and the PCA). */
const RECONCILE_SKEW_MS = 5 * 60_000;
/** Upper bound on getCert calls one reconciliation may make. */
const RECONCILE_MAX_LOOKUPS = 500;

export interface IssuanceJobDeps {
  store: Store;
  pca: PcaClient;
  validity: ValidityPolicy;
  trustAnchors: () => X509Certificate[];
  clock: Clock;
  random: Random;
  logger: Logger;
}

export class IssuanceJob implements JobHandler {
  constructor(private readonly d: IssuanceJobDeps) {}

  async run(job: Job): Promise<void> {
    const { store, clock } = this.d;
    const order = await store.orders.get(job.subjectId);
    if (!order || order.status !== 'processing') {
      await store.jobs.finish(job.id, 'done', 'order no longer processing', clock.nowMs());
      return;
    }
    const csrDer = await store.orders.getCsr(order.id);
    if (!csrDer) {
      await this.fail(order, new AcmeProblem('serverInternal', 'the order has no CSR recorded'));
      return;
    }
    const spki = csrSpkiSha256(csrDer);
    const log = this.d.logger.child({ orderId: order.id, jobId: job.id });

    const unsettled = (await store.issuance.attemptsForOrder(order.id)).filter((a) => a.outcome === 'pending' || a.outcome === 'unknown');
    if (unsettled.length > 0) {
      const adopted = await this.reconcile(order, spki, unsettled, log);
      if (adopted) return;
    }

    const attemptId = this.d.random.bytes(12).toString('base64url');
    await store.issuance.recordAttempt({ id: attemptId, orderId: order.id, spkiSha256: spki, startedAt: clock.nowMs() });
    const period = this.d.validity.periodFor(order, clock.now());
    let result;
    try {
      result = await this.d.pca.sign(pemFromDer(csrDer, 'CERTIFICATE REQUEST'), { period });
    } catch (err) {
      if (err instanceof PcaError) {
        const unknown = err.outcomeUnknown;
        await store.issuance.finishAttempt(attemptId, unknown ? 'unknown' : 'failed', null, describePcaError(err), clock.nowMs());
        if (err.retryable) {
          log.warn({ pca: describePcaError(err), outcomeUnknown: unknown }, 'PCA sign failed; will retry');
          throw new RetryLater(`PCA sign failed: ${describePcaError(err)}`);
        }
        log.warn({ pca: describePcaError(err) }, 'PCA refused to sign');
        await this.fail(order, problemFromPcaError(err));
        return;
      }
      await store.issuance.finishAttempt(attemptId, 'unknown', null, String(err), clock.nowMs());
      throw err;
    }
    await this.accept(order, attemptId, spki, result.leafPem, result.chainPems, result.serialNo, log);
  }

  async giveUp(job: Job, error: unknown): Promise<void> {
    const order = await this.d.store.orders.get(job.subjectId);
    if (!order) {
      await this.d.store.jobs.finish(job.id, 'failed', String(error), this.d.clock.nowMs());
      return;
    }
    const problem =
      error instanceof PcaError
        ? problemFromPcaError(error)
        : new AcmeProblem('serverInternal', `the Private CA did not issue before the deadline (${error instanceof Error ? error.message : String(error)}); try again later`);
    this.d.logger.error({ orderId: order.id, err: error instanceof Error ? error.message : String(error) }, 'issuance gave up');
    await this.fail(order, problem);
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
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(leafPem);
    } catch {
      return null;
    }
    const facts = factsOf(leaf);
    return {
      id: this.d.random.bytes(12).toString('base64url'),
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

  /**
   * Looks on the PCA for certificates with the CSR's key issued since the earliest unsettled attempt.
   * Adopts the first for the order and records any others, so none is lost. Returns true when adopted.
   */
  private async reconcile(order: Order, spki: string, unsettled: IssuanceAttempt[], log: Logger): Promise<boolean> {
    const { store, pca, clock } = this.d;
    const since = Math.min(...unsettled.map((a) => a.startedAt)) - RECONCILE_SKEW_MS;
    const found: { serialNo: string; certPem: string; caChainPems: string[] }[] = [];
    let lookups = 0;
    // Assumption (ncp-pca-api §4.11): the list is in issue order, oldest first; walk pages backwards
    // and stop at the first page whose certificates all predate the attempt.
    const first = await pca.listCerts(1);
    let pageNo = Math.max(first.totalPageNo, 1);
    let page = pageNo === 1 ? first : await pca.listCerts(pageNo);
    for (;;) {
      let allOlder = page.serials.length > 0;
      for (const serialNo of [...page.serials].reverse()) {
        if (++lookups > RECONCILE_MAX_LOOKUPS) break;
        const info = await pca.getCert(serialNo);
        if (info.notBefore.getTime() + 2 * 60_000 >= since) allOlder = false;
        else continue;
        try {
          if (spkiSha256OfCert(new X509Certificate(info.certPem)) === spki) found.push({ serialNo, certPem: info.certPem, caChainPems: info.caChainPems });
        } catch {
          /* an unparsable entry is not ours to adopt */
        }
      }
      if (allOlder || lookups > RECONCILE_MAX_LOOKUPS || pageNo <= 1) break;
      pageNo -= 1;
      page = await pca.listCerts(pageNo);
    }
    for (const a of unsettled) {
      await store.issuance.finishAttempt(a.id, found.length ? 'issued' : 'failed', found[0]?.serialNo ?? null, found.length ? 'adopted by reconciliation' : 'not issued (reconciled)', clock.nowMs());
    }
    if (found.length === 0) {
      log.info({ attempts: unsettled.length }, 'reconciliation: the PCA issued nothing for the earlier attempt(s); signing again');
      return false;
    }
    const [adopt, ...extra] = found;
    for (const e of extra) {
      const cert = this.toIssued(e.certPem, e.caChainPems, e.serialNo);
      if (cert) await store.certificates.recordOrphan(cert, order.directory, order.id, clock.now());
      log.warn({ serial: e.serialNo }, 'reconciliation: extra certificate for the same key recorded as orphan');
    }
    log.info({ serial: adopt!.serialNo }, 'reconciliation: adopting the certificate the PCA issued for the earlier attempt');
    const chain = adopt!.caChainPems.length ? adopt!.caChainPems : await pca.chain();
    await this.accept(order, null, spki, adopt!.certPem, chainWithoutRootUnlessNeeded(adopt!.certPem, chain), adopt!.serialNo, log);
    return true;
  }

  private async fail(order: Order, problem: AcmeProblem): Promise<void> {
    await this.d.store.orders.fail(order.id, problem.toDocument(), this.d.clock.now());
  }
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
