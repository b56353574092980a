import { normalizeSerialHex } from '../acme/issued-check.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Random } from '../platform/random.js';
import type { IssuanceAttempt, Store } from '../store/types.js';
import type { PcaCertificateSearch } from './pca-search.js';
import { recordOrphan, walkIssuedSince } from './reconcile.js';

// The PCA audit: "record every issuance the PCA reports, so none is ever lost" (issue 4). The PCA
// can act on a sign call whose answer we never saw, after reconciliation already looked and found
// nothing (a sign processed later than our timeout). Such a certificate is for a key some issuance
// attempt of ours asked for; the audit walks the PCA's list back to its watermark and records every
// such certificate the database does not hold, as an orphan of that attempt's order. Certificates
// for keys we never asked about (issued by other means on a shared CA) are left alone. The walk and
// the orphan record are reconciliation's (reconcile.ts).

/** How far behind the start of the previous run the next run looks again (late signs, clock skew). */
const OVERLAP_MS = 15 * 60_000;
/** Certificates one run may look at; a run that would need more stops and resumes next time. */
const MAX_LOOKUPS = 5_000;
/** Time one run may take. */
const RUN_BUDGET_MS = 60_000;
const WATERMARK_KEY = 'pca_audit_watermark';

/**
 * A sign call younger than this whose order is still processing is in flight: the issuance job (on
 * this replica or, behind a load balancer, on any other) is about to store that very certificate, or
 * the job's next owner adopts it by reconciliation. Well under OVERLAP_MS, so a later run looks again.
 */
const IN_FLIGHT_MS = 5 * 60_000;

const inFlight = (attempt: IssuanceAttempt, orderStatus: string, nowMs: number): boolean =>
  attempt.outcome === 'pending' && orderStatus === 'processing' && nowMs - attempt.startedAt < IN_FLIGHT_MS;

/** The attempt settled with this certificate between our lookup by serial and now. */
const storedMeanwhile = (attempt: IssuanceAttempt, serialNo: string): boolean =>
  attempt.outcome === 'issued' && attempt.pcaSerial !== null && normalizeSerialHex(attempt.pcaSerial) === normalizeSerialHex(serialNo);

export interface AuditResult {
  looked: number;
  recorded: number;
  complete: boolean;
}

export interface PcaAuditDeps {
  store: Store;
  search: PcaCertificateSearch;
  clock: Clock;
  random: Random;
  logger: Logger;
  /**
   * Issue 9: the directory whose PCA this audit walks. Only that directory's orders can own what its
   * PCA issued, and it keeps its own watermark. Unset: every order, the one watermark of before.
   */
  directory?: string;
  /** Whether the directory keeps the watermark key of the single-directory gateway (the default one does). */
  sharedWatermark?: boolean;
}

export class PcaAudit {
  private readonly watermarkKey: string;

  constructor(private readonly d: PcaAuditDeps) {
    this.watermarkKey = d.directory === undefined || d.sharedWatermark ? WATERMARK_KEY : `${WATERMARK_KEY}:${d.directory}`;
  }

  async run(): Promise<AuditResult> {
    const { store, clock, logger } = this.d;
    const startedAt = clock.nowMs();
    const saved = await store.settings.get(this.watermarkKey);
    // Nothing the PCA issued before our first sign call can be ours.
    const watermark = saved !== null ? Number(saved) : ((await store.issuance.earliestStartedAt()) ?? startedAt) - OVERLAP_MS;
    const result: AuditResult = { looked: 0, recorded: 0, complete: false };
    try {
      const guard = {
        maxLookups: MAX_LOOKUPS,
        beforeLookup: () => {
          if (clock.nowMs() - startedAt > RUN_BUDGET_MS) throw new Error('PCA audit: out of time for this run');
        },
      };
      await walkIssuedSince(this.d.search, watermark, guard, async (facts) => {
        result.looked++;
        if (!facts.spkiSha256 || (await store.certificates.getBySerial(normalizeSerialHex(facts.serialNo)))) return;
        const first = await store.issuance.latestForKey(facts.spkiSha256, this.d.directory);
        if (!first) return; // not a key we asked for
        const order = await store.orders.get(first.orderId);
        if (!order) return;
        // Read again after the order: an issuance that settled the order (on any replica) settled
        // its attempt in the same write, so an attempt read before that write is not trusted.
        const attempt = (await store.issuance.latestForKey(facts.spkiSha256, this.d.directory)) ?? first;
        if (inFlight(attempt, order.status, clock.nowMs()) || storedMeanwhile(attempt, facts.serialNo)) return;
        if (!(await recordOrphan(this.d, facts, order))) return;
        result.recorded++;
        logger.warn({ serial: facts.serialNo, orderId: order.id }, 'PCA audit: recorded a certificate the PCA issued that the gateway had no record of');
      });
      result.complete = true;
      await store.settings.set(this.watermarkKey, String(startedAt - OVERLAP_MS));
    } catch (err) {
      logger.warn({ err: (err as Error).message, looked: result.looked }, 'PCA audit incomplete; the next run starts from the same watermark');
    }
    return result;
  }
}
