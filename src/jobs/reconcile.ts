import type { Order } from '../acme/types.js';
import { buildIssuerChain } from '../pca/chain.js';
import { PcaError } from '../pca/errors.js';
import { issuedCertificate } from '../pca/issued.js';
import type { PcaClient } from '../pca/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { timeOrderedId, type Random } from '../platform/random.js';
import type { IssuanceAttempt, Store } from '../store/types.js';
import { SearchIncomplete, type PcaCertFacts, type PcaCertificateSearch, type WalkGuard } from './pca-search.js';
import { RetryLater } from './runner.js';

// Reconciliation: the search for what the PCA issued that the gateway never heard back about.
// When a sign call's outcome is unknown (crash, timeout, dropped connection), the PCA's own list is
// searched for a certificate with the CSR's key, issued after that attempt started, and adopted
// instead of signing again (exactly once as far as the PCA allows). The audit (pca-audit.ts) walks
// the same list the same way, for keys whose orders have ended.

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
export const FOLLOW_UP_WINDOW_MS = 24 * 3_600_000;
/** Retry pace of that follow-up job (its searches are cheap: one list call plus cached lookups). */
export const FOLLOW_UP_RETRY_MS = 5_000;
/** Time a reconciliation may take when the job is at its deadline or following up, so it cannot hang on. */
export const LATE_SEARCH_BUDGET_MS = 15_000;

export interface ReconcileDeps {
  store: Store;
  pca: PcaClient;
  search: PcaCertificateSearch;
  clock: Clock;
  random: Random;
}

/** Checks a certificate the PCA issued and attaches it to the order, or ends the order (IssuanceJob.accept). */
export type AcceptIssued = (order: Order, attemptId: string, spki: string, leafPem: string, chainPems: string[], pcaSerial: string, log: Logger) => Promise<void>;

/**
 * Visits the PCA's certificates whose notBefore is at or after `sinceMs`, newest first. The list's
 * order is undocumented (ncp-pca-api §3.4, §4.11): the walker reads the direction off the data, so
 * the walk can stop at the first certificate too old to matter.
 */
export async function walkIssuedSince(search: PcaCertificateSearch, sinceMs: number, guard: WalkGuard, visit: (facts: PcaCertFacts) => void | Promise<void>): Promise<void> {
  await search.walkNewestFirst(async (facts) => {
    if (facts.notBeforeMs < sinceMs) return false; // from here on, every certificate is older
    await visit(facts);
    return true;
  }, guard);
}

/** Keeps a PCA certificate on record for an order without serving it. False when its leaf does not parse. */
export async function recordOrphan(d: Pick<ReconcileDeps, 'store' | 'clock' | 'random'>, facts: Pick<PcaCertFacts, 'certPem' | 'caChainPems' | 'serialNo'>, order: Pick<Order, 'id' | 'directory'>): Promise<boolean> {
  const cert = issuedCertificate(facts.certPem, facts.caChainPems, facts.serialNo, timeOrderedId(d.random, d.clock.nowMs()));
  if (!cert) return false;
  await d.store.certificates.recordOrphan(cert, order.directory, order.id, d.clock.now());
  return true;
}

/** When the last of these attempts' sign calls ended (or, for one a crash cut short, began): a list read since shows what it did. */
function settledBy(attempts: IssuanceAttempt[]): number {
  return Math.max(...attempts.map((a) => a.finishedAt ?? a.startedAt));
}

export class Reconciler {
  constructor(private readonly d: ReconcileDeps) {}

  /**
   * Looks on the PCA for certificates with the CSR's key issued since the earliest unsettled attempt.
   * Adopts one for the order (through `accept`) and records any others, so none is lost. Returns true
   * when adopted. Throws (the outcome stays unknown) when the PCA cannot be searched completely.
   */
  async reconcile(order: Order, spki: string, unsettled: IssuanceAttempt[], searchEndsAt: number, log: Logger, accept: AcceptIssued): Promise<boolean> {
    const { store, clock } = this.d;
    const found = await this.findIssued(spki, Math.min(...unsettled.map((a) => a.startedAt)), searchEndsAt, settledBy(unsettled));
    if (found.length === 0) {
      for (const a of unsettled) await store.issuance.finishAttempt(a.id, 'failed', null, 'not issued (reconciled)', clock.nowMs());
      log.info({ attempts: unsettled.length }, 'reconciliation: the PCA issued nothing for the earlier attempt(s); signing again');
      return false;
    }
    // The oldest is adopted, the same one on every run: extras are recorded first, so a crash in
    // between must not turn an extra already on record into the adopted one (or lose it).
    const [adopt, ...extra] = found;
    for (const e of extra) {
      await recordOrphan(this.d, e, order);
      log.warn({ serial: e.serialNo }, 'reconciliation: extra certificate for the same key recorded as orphan');
    }
    log.info({ serial: adopt!.serialNo }, 'reconciliation: adopting the certificate the PCA issued for the earlier attempt');
    const chain = await this.issuerChain(adopt!);
    // The attempts are settled only after the certificate is attached: settled first, a crash in
    // between would leave nothing to reconcile and the order would be signed a second time.
    const [newest, ...older] = [...unsettled].sort((a, b) => b.startedAt - a.startedAt);
    await accept(order, newest!.id, spki, adopt!.certPem, chain, adopt!.serialNo, log);
    for (const a of older) await store.issuance.finishAttempt(a.id, 'issued', adopt!.serialNo, 'adopted by reconciliation', clock.nowMs());
    return true;
  }

  /** For an order that already ended: record whatever the PCA issued for its unsettled attempts. */
  async recordLateIssuance(order: Order, unsettled: IssuanceAttempt[], searchEndsAt: number, log: Logger): Promise<void> {
    const { store, clock } = this.d;
    const spki = unsettled[0]!.spkiSha256;
    let found: PcaCertFacts[];
    try {
      found = await this.findIssued(spki, Math.min(...unsettled.map((a) => a.startedAt)), searchEndsAt, settledBy(unsettled));
    } catch (err) {
      throw new RetryLater(`follow-up reconciliation failed: ${err instanceof Error ? err.message : String(err)}`, FOLLOW_UP_RETRY_MS);
    }
    for (const f of found) {
      await recordOrphan(this.d, f, order);
      log.warn({ serial: f.serialNo, orderStatus: order.status }, 'reconciliation: the PCA issued for an order that had already ended; recorded as orphan');
    }
    for (const a of unsettled) {
      await store.issuance.finishAttempt(a.id, found.length ? 'issued' : 'failed', found[0]?.serialNo ?? null, found.length ? 'recorded as orphan after the order ended' : 'not issued (reconciled after the order ended)', clock.nowMs());
    }
  }

  /**
   * Every PCA certificate for `spki` whose notBefore is no older than `sinceMs` (less clock skew and
   * back-dating), oldest first. Past `searchEndsAt` it gives up (throws): an unfinished search proves
   * nothing. Certificates for other keys in the same window are never ours, whatever they name. The
   * list is read as it was at `freshAfterMs` or later (the search shares pages with other jobs).
   */
  async findIssued(spki: string, sinceMs: number, searchEndsAt: number, freshAfterMs: number = this.d.clock.nowMs()): Promise<PcaCertFacts[]> {
    const { clock } = this.d;
    const found = new Map<string, PcaCertFacts>();
    const guard: WalkGuard = {
      maxLookups: RECONCILE_MAX_LOOKUPS,
      freshAfterMs,
      beforeLookup: () => {
        if (clock.nowMs() > searchEndsAt) throw new SearchIncomplete('reconciliation incomplete: out of time');
      },
    };
    await walkIssuedSince(this.d.search, sinceMs - RECONCILE_SKEW_MS - NOT_BEFORE_BACKDATE_MS, guard, (facts) => {
      if (facts.spkiSha256 === spki) found.set(facts.serialNo, facts);
    });
    return [...found.values()].sort((x, y) => x.notBeforeMs - y.notBeforeMs || x.serialNo.localeCompare(y.serialNo));
  }

  /**
   * The adopted leaf's issuers, issuer first, from the one chain builder (pca/chain.ts). When nothing
   * the PCA lists issued the leaf, the chain is empty and the check in accept refuses the certificate
   * (keeping it on record), as it would a sign answer without issuers.
   */
  private async issuerChain(adopt: PcaCertFacts): Promise<string[]> {
    const caPems = adopt.caChainPems.length ? adopt.caChainPems : await this.d.pca.chain();
    try {
      return await buildIssuerChain(adopt.certPem, caPems);
    } catch (err) {
      if (err instanceof PcaError && err.kind === 'malformed') return [];
      throw err;
    }
  }
}
