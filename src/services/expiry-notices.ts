import { isRenewed, type OpsEventSink } from '../acme/ops-events.js';
import type { Clock } from '../platform/clock.js';
import type { Store } from '../store/types.js';

// The "certificate nearing expiry and not renewed" notice: a periodic scan (deps.ts housekeeping)
// over valid certificates whose notAfter falls within the window, skipping those a later
// certificate for the same names (or an ARI `replaces`) renewed. One notice per certificate and
// webhook: the notify job's subject deduplicates it for as long as the job is kept.

const SCAN_LIMIT = 1000;

export class ExpiryNotices {
  constructor(private readonly o: { store: Store; clock: Clock; events: OpsEventSink; withinDays: number }) {}

  /** Returns how many certificates were announced. */
  async scan(): Promise<number> {
    const now = this.o.clock.nowMs();
    const expiring = await this.o.store.reports.listCertificates({ nowMs: now, expiringBeforeMs: now + this.o.withinDays * 86_400_000, limit: SCAN_LIMIT });
    if (expiring.length === 0) return 0;
    const oldest = Math.min(...expiring.map((c) => c.createdAt.getTime()));
    const later = await this.o.store.reports.certificatesIssuedSince(oldest);
    let n = 0;
    for (const cert of expiring) {
      if (isRenewed(cert, later)) continue;
      n++;
      await this.o.events.record({
        action: 'certificate.expiring',
        audit: false,
        notify: 'certificate.expiring',
        notifyKey: `expiring:${cert.id}`,
        directory: cert.directory,
        accountId: cert.accountId,
        orderId: cert.orderId,
        certificateId: cert.id,
        serialHex: cert.serialHex,
        detail: { names: cert.orderIdentifiers.map((i) => i.value), notAfter: cert.notAfter.toISOString(), daysLeft: Math.floor((cert.notAfter.getTime() - now) / 86_400_000) },
      });
    }
    return n;
  }
}
