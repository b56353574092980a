import { X509Certificate } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Store } from '../store/types.js';
import type { ConsoleData } from './console.js';
import type { AdminReadModel } from './read-model.js';

// Gathers what the console shows. Each directory's PCA health is its circuit breaker, its CA as the
// CA watch last read it (ACTIVE, not expired, credentials accepted) and a live read of its CA chain
// (cached for 30 s, so reloading the page does not hammer the PCA); the CAs' days left come from the
// trust anchors and the issuing CA of each chain.

export interface PcaProbe {
  breakerState(): string;
  chain(): Promise<string[]>;
}

/** One directory's PCA, as the console shows it. */
export interface ConsolePca {
  directory: string;
  pca: PcaProbe;
  /** Why the directory's Private CA cannot issue now; null when it can (pca/ca-status.ts notReady). */
  caNotReady: () => string | null;
}

type Probe = { ok: boolean; detail: string; chain: string[] };

const PROBE_TTL_MS = 30_000;
const PROBE_TIMEOUT_MS = 3_000;
const DAY_MS = 86_400_000;

export class ConsoleSource {
  private readonly probes = new Map<string, { at: number; value: Promise<Probe> }>();

  constructor(
    private readonly o: {
      readModel: AdminReadModel;
      store: Store;
      clock: Clock;
      ready: () => Promise<void>;
      /** Every directory's PCA, the default directory first. */
      pcas: ConsolePca[];
      trustAnchorPems: () => string[];
    },
  ) {}

  async data(): Promise<ConsoleData> {
    const now = this.o.clock.now();
    const [ready, probes, daily, expiring, recent, gauges] = await Promise.all([
      this.o.ready().then(
        () => ({ ok: true }),
        (err: Error) => ({ ok: false, reason: err.message }),
      ),
      Promise.all(this.o.pcas.map((p) => this.probePca(p))),
      this.o.readModel.daily(30),
      this.o.readModel.certificates({ expiringWithinMs: 30 * DAY_MS, notRenewed: true, limit: 200 }),
      this.o.readModel.orders({ limit: 20 }),
      this.o.store.reports.gauges(),
    ]);
    const recentOrders = (await Promise.all(recent.map((o) => this.o.readModel.order(o.id)))).filter((o) => o !== null);
    return {
      generatedAt: now,
      ready,
      pcas: this.o.pcas.map((p, i) => ({ directory: p.directory, breaker: p.pca.breakerState(), reachable: probes[i]!.ok, detail: probes[i]!.detail, caNotReady: p.caNotReady() })),
      ca: caLifetimes(this.o.trustAnchorPems(), this.o.pcas.map((p, i) => ({ directory: p.directory, chain: probes[i]!.chain })), now.getTime()),
      daily,
      expiring,
      recentOrders,
      jobs: gauges.jobs,
    };
  }

  private probePca(p: ConsolePca): Promise<Probe> {
    const now = this.o.clock.nowMs();
    const cached = this.probes.get(p.directory);
    if (!cached || now - cached.at > PROBE_TTL_MS) {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      });
      const value = Promise.race([p.pca.chain(), timeout]).then(
        (chain) => ({ ok: true, detail: `CA chain read in ${Date.now() - started} ms`, chain }),
        (err: Error) => ({ ok: false, detail: `CA chain not readable: ${err.message}`, chain: [] as string[] }),
      );
      void value.finally(() => clearTimeout(timer));
      this.probes.set(p.directory, { at: now, value });
      return value;
    }
    return cached.value;
  }
}

/** Days left of each trust anchor and each directory's issuing CA (named by directory when there are several). */
function caLifetimes(anchors: string[], chains: Array<{ directory: string; chain: string[] }>, nowMs: number): ConsoleData['ca'] {
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
  for (const { directory, chain } of chains) {
    for (const pem of chain) {
      const c = (() => {
        try {
          return new X509Certificate(pem);
        } catch {
          return null;
        }
      })();
      if (c && !c.checkIssued(c)) add(pem, chains.length > 1 ? `issuing CA (${directory})` : 'issuing CA');
    }
  }
  return out;
}
