import { X509Certificate } from 'node:crypto';
import type { Logger } from '../platform/logger.js';
import type { PcaClient } from './types.js';

// The root(s) every issued chain must verify to ("never serve a wrong certificate"). Either given
// (pca.trustAnchorFile, the embedded simulator's root) or read from the PCA's own chain: then, until
// the chain has been fetched, there are none and issuance waits instead of rejecting good certificates.

export class TrustAnchors {
  private anchors: X509Certificate[];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly o: {
      pca: PcaClient;
      /** Fixed anchors; null = fetch them from the PCA chain. */
      fixed: X509Certificate[] | null;
      logger: Logger;
      retryMs?: number;
    },
  ) {
    this.anchors = o.fixed ?? [];
  }

  current(): X509Certificate[] {
    return this.anchors;
  }

  pems(): string[] {
    return this.anchors.map((a) => a.toString());
  }

  /** With no fixed anchors: one fetch now, then retries in the background until one succeeds. */
  async start(): Promise<void> {
    if (this.o.fixed || this.anchors.length > 0) return;
    if (await this.fetch()) return;
    this.timer = setInterval(() => {
      void this.fetch().then((ok) => {
        if (ok) this.stop();
      });
    }, this.o.retryMs ?? 30_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async fetch(): Promise<boolean> {
    try {
      const roots = (await this.o.pca.chain()).map((p) => new X509Certificate(p)).filter((c) => c.checkIssued(c));
      if (roots.length === 0) {
        this.o.logger.error('the PCA chain has no self-signed root; set pca.trustAnchorFile');
        return false;
      }
      this.anchors = roots;
      return true;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'could not fetch the PCA chain for the trust anchor; issuance waits until it can');
      return false;
    }
  }
}
