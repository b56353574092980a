import { X509Certificate } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Store } from '../store/types.js';
import type { ConsoleData } from './console.js';
import type { AdminReadModel } from './read-model.js';

// Gathers what the console shows. The PCA's health is its circuit breaker plus a live read of its CA
// chain (cached for 30 s, so reloading the page does not hammer the PCA); the CA's days left come
// from the trust anchors and the issuing CA in that chain.

export interface PcaProbe {
  breakerState(): string;
  chain(): Promise<string[]>;
}

const PROBE_TTL_MS = 30_000;
const PROBE_TIMEOUT_MS = 3_000;
const DAY_MS = 86_400_000;

export class ConsoleSource {
  private probe: { at: number; value: Promise<{ ok: boolean; detail: string; chain: string[] }> } | null = null;

  constructor(
    private readonly o: {
      readModel: AdminReadModel;
      store: Store;
      clock: Clock;
      ready: () => Promise<void>;
      pca: PcaProbe;
      trustAnchorPems: () => string[];
    },
  ) {}

  async data(): Promise<ConsoleData> {
    const now = this.o.clock.now();
    const [ready, probe, daily, expiring, recent, gauges] = await Promise.all([
      this.o.ready().then(
        () => ({ ok: true }),
        (err: Error) => ({ ok: false, reason: err.message }),
      ),
      this.probePca(),
      this.o.readModel.daily(30),
      this.o.readModel.certificates({ expiringWithinMs: 30 * DAY_MS, notRenewed: true, limit: 200 }),
      this.o.readModel.orders({ limit: 20 }),
      this.o.store.reports.gauges(),
    ]);
    const recentOrders = (await Promise.all(recent.map((o) => this.o.readModel.order(o.id)))).filter((o) => o !== null);
    const breaker = this.o.pca.breakerState();
    return {
      generatedAt: now,
      ready,
      pca: { breaker, reachable: probe.ok, detail: probe.detail },
      ca: caLifetimes(this.o.trustAnchorPems(), probe.chain, now.getTime()),
      daily,
      expiring,
      recentOrders,
      jobs: gauges.jobs,
    };
  }

  private probePca(): Promise<{ ok: boolean; detail: string; chain: string[] }> {
    const now = this.o.clock.nowMs();
    if (!this.probe || now - this.probe.at > PROBE_TTL_MS) {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      });
      const value = Promise.race([this.o.pca.chain(), timeout]).then(
        (chain) => ({ ok: true, detail: `CA chain read in ${Date.now() - started} ms`, chain }),
        (err: Error) => ({ ok: false, detail: `CA chain not readable: ${err.message}`, chain: [] as string[] }),
      );
      void value.finally(() => clearTimeout(timer));
      this.probe = { at: now, value };
    }
    return this.probe.value;
  }
}

function caLifetimes(anchors: string[], chain: string[], nowMs: number): ConsoleData['ca'] {
  const seen = new Set<string>();
  const out: ConsoleData['ca'] = [];
  const add = (pem: string, role: string) => {
    try {
      const c = new X509Certificate(pem);
      if (seen.has(c.fingerprint256)) return;
      seen.add(c.fingerprint256);
      const notAfter = new Date(c.validTo);
      // The common name says which CA it is; the whole subject when there is none.
      const cn = /(?:^|\n)CN=([^\n]+)/.exec(c.subject)?.[1];
      out.push({ role, subject: cn ?? c.subject.replace(/\n/g, ', '), notAfter: notAfter.toISOString(), daysLeft: Math.floor((notAfter.getTime() - nowMs) / DAY_MS) });
    } catch {
      // not a certificate: nothing to show
    }
  };
  for (const pem of anchors) add(pem, 'trust anchor');
  for (const pem of chain) {
    const c = (() => {
      try {
        return new X509Certificate(pem);
      } catch {
        return null;
      }
    })();
    if (c && !c.checkIssued(c)) add(pem, 'issuing CA');
  }
  return out;
}
