import { X509Certificate } from 'node:crypto';
import { normalizeSerialHex, spkiSha256OfCert } from '../acme/issued-check.js';
import { splitCertificatePems } from '../acme/pem.js';
import { ListWalkCheck } from '../pca/paging.js';
import type { PcaCertPage, PcaClient } from '../pca/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { PcaCertificateRecord, Store } from '../store/types.js';

// Walking the PCA's own record of what it issued (ncp-pca-api §3.4 list, §3.5 get). The list API
// pages serial numbers only and its order is undocumented (§4.11), so the direction is read off the
// data and the walk always starts at the newest end. Used by reconciliation (did the PCA issue for
// this key?) and by the audit (did the PCA issue anything we have no record of?).
//
// Issue 10, a search that scales: one search per PCA, shared by every job that needs it. A list page
// asked for by several walks at once is fetched once; a serial is looked up by one call at a time;
// and the list's own serials are matched against what is already known — certificates the gateway
// holds, and what earlier searches learned (Store.pcaCertificates, kept across restarts) — before
// anything is asked of the PCA. A restart with N unsettled orders costs about the list pages plus
// the N certificates nobody has seen. Every page is held to what it says of itself (pca/paging.ts).

/** One PCA certificate as a search sees it. */
export type PcaCertFacts = PcaCertificateRecord;

export interface WalkGuard {
  /** Certificates looked at, at most; past it the walk throws `SearchIncomplete`. */
  maxLookups: number;
  /** Called before each lookup that is not cached; throws (e.g. SearchIncomplete) when out of time. */
  beforeLookup(): void;
  /**
   * A list page fetched before this time (epoch ms) is not used: a reconciliation must see the list
   * as it is after its sign attempt ended. Pages fetched since are shared. Default: now.
   */
  freshAfterMs?: number;
}

/** The walk could not cover everything it had to: what it found proves nothing about the rest. */
export class SearchIncomplete extends Error {}

/** Certificate facts remembered in memory between searches (they never change); oldest dropped first. */
const DEFAULT_CACHE_SIZE = 20_000;
/** What was learned of certificates older than this (by notBefore) is forgotten: no search looks that far back. */
export const LEARNED_RETENTION_MS = 30 * 86_400_000;
/** How long a fetched list page may serve other walks (that started after their attempts ended). */
const PAGE_REUSE_MS = 2_000;

export interface PcaSearchDeps {
  pca: PcaClient;
  /** The CA whose list this is: what is learned is kept under its caTag (serials are unique per CA). */
  ca: string;
  /** What the gateway holds and what earlier searches learned; without it, memory only. */
  store?: Pick<Store, 'pcaCertificates' | 'certificates'>;
  clock: Clock;
  logger?: Logger;
  cacheSize?: number;
}

export class PcaCertificateSearch {
  private readonly cache = new Map<string, PcaCertFacts>();
  private readonly inFlight = new Map<string, Promise<PcaCertFacts>>();
  private readonly pages = new Map<number, { fetchedAt: number; page: Promise<PcaCertPage> }>();
  private readonly d: PcaSearchDeps & { cacheSize: number };

  constructor(deps: PcaSearchDeps) {
    this.d = { cacheSize: DEFAULT_CACHE_SIZE, ...deps };
  }

  /**
   * Visits the PCA's certificates newest first until `visit` returns false or the list ends. Throws
   * SearchIncomplete past `guard.maxLookups` or when a page fails its check (pca/paging.ts), and
   * whatever `guard.beforeLookup` throws.
   */
  async walkNewestFirst(visit: (facts: PcaCertFacts) => boolean | Promise<boolean>, guard: WalkGuard): Promise<void> {
    const freshAfter = guard.freshAfterMs ?? this.d.clock.nowMs();
    const check = new ListWalkCheck();
    const read = async (pageNo: number): Promise<PcaCertPage> => {
      const page = await this.page(pageNo, freshAfter);
      const problem = check.page(pageNo, page);
      if (problem) {
        this.d.logger?.warn({ ca: this.d.ca, pageNo, problem }, 'PCA list paging does not prove itself; the search is incomplete');
        throw new SearchIncomplete(`search incomplete: ${problem}`);
      }
      await this.prefetch(page.serials);
      return page;
    };
    const first = await read(1);
    const pages = Math.max(first.totalPageNo, 1);
    const newestFirst = await this.listIsNewestFirst(first, pages, read);
    let looked = 0;
    for (let i = 0; i < pages; i++) {
      const pageNo = newestFirst ? i + 1 : pages - i;
      guard.beforeLookup();
      const page = pageNo === 1 ? first : await read(pageNo);
      const serials = newestFirst ? page.serials : [...page.serials].reverse();
      for (const serialNo of serials) {
        if (++looked > guard.maxLookups) throw new SearchIncomplete(`search incomplete: more than ${guard.maxLookups} certificates to look at`);
        if (!this.cache.has(serialNo.toUpperCase())) guard.beforeLookup();
        if (!(await visit(await this.lookup(serialNo)))) return;
      }
    }
    const problem = check.complete();
    if (problem) {
      this.d.logger?.warn({ ca: this.d.ca, problem }, 'PCA list paging does not prove itself; the search is incomplete');
      throw new SearchIncomplete(`search incomplete: ${problem}`);
    }
  }

  /**
   * The list's direction from the ends of page 1, or of page 1 and the last page when page 1 alone
   * cannot tell (one entry, or equal times); oldest-first when nothing can. Page 1 alone is preferred:
   * a PCA that ignores pageNo is then still walked correctly when page 1 reaches back far enough.
   */
  private async listIsNewestFirst(first: PcaCertPage, pages: number, read: (pageNo: number) => Promise<PcaCertPage>): Promise<boolean> {
    const a = first.serials[0];
    if (a === undefined) return false;
    const b = first.serials.at(-1)!;
    if (a !== b) {
      const [fa, fb] = [await this.lookup(a), await this.lookup(b)];
      if (fa.notBeforeMs !== fb.notBeforeMs) return fa.notBeforeMs > fb.notBeforeMs;
    }
    if (pages <= 1) return false;
    const c = (await read(pages)).serials.at(-1);
    if (c === undefined || c === a) return false;
    const [fa, fc] = [await this.lookup(a), await this.lookup(c)];
    return fa.notBeforeMs > fc.notBeforeMs;
  }

  /** A list page, shared with the walks that asked for it since `freshAfter` (within PAGE_REUSE_MS). */
  private page(pageNo: number, freshAfter: number): Promise<PcaCertPage> {
    const now = this.d.clock.nowMs();
    const held = this.pages.get(pageNo);
    if (held && held.fetchedAt >= freshAfter && now - held.fetchedAt <= PAGE_REUSE_MS) return held.page;
    const page = this.d.pca.listCerts(pageNo);
    const entry = { fetchedAt: now, page };
    this.pages.set(pageNo, entry);
    page.catch(() => {
      if (this.pages.get(pageNo) === entry) this.pages.delete(pageNo);
    });
    return page;
  }

  /** Fills the memory cache with what earlier searches learned of a page's serials, in one read. */
  private async prefetch(serials: readonly string[]): Promise<void> {
    const unknown = serials.filter((s) => !this.cache.has(s.toUpperCase()));
    if (!this.d.store || unknown.length === 0) return;
    try {
      for (const r of await this.d.store.pcaCertificates.getMany(this.d.ca, unknown)) this.remember(r);
    } catch (err) {
      this.d.logger?.warn({ err: (err as Error).message }, 'could not read the certificates learned earlier; asking the PCA');
    }
  }

  /**
   * The facts of one certificate: from memory, from a lookup already on its way, from the
   * certificates the gateway holds, or (only then) from the PCA, and then kept in the store.
   */
  lookup(serialNo: string): Promise<PcaCertFacts> {
    const key = serialNo.toUpperCase();
    const cached = this.cache.get(key);
    if (cached) return Promise.resolve(cached);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.learn(serialNo).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async learn(serialNo: string): Promise<PcaCertFacts> {
    const held = await this.held(serialNo);
    if (held) return this.remember(held);
    const info = await this.d.pca.getCert(serialNo);
    let spkiSha256: string | null = null;
    try {
      spkiSha256 = spkiSha256OfCert(new X509Certificate(info.certPem));
    } catch {
      /* an unparsable entry is not ours to adopt */
    }
    const facts: PcaCertFacts = { serialNo, notBeforeMs: info.notBefore.getTime(), spkiSha256, certPem: info.certPem, caChainPems: info.caChainPems };
    this.remember(facts);
    try {
      await this.d.store?.pcaCertificates.record(this.d.ca, [facts], this.d.clock.nowMs());
    } catch (err) {
      this.d.logger?.warn({ err: (err as Error).message, serial: serialNo }, 'could not keep what was learned of a PCA certificate');
    }
    return facts;
  }

  /** A certificate the gateway holds already (attached to an order, or an orphan) needs no PCA call. */
  private async held(serialNo: string): Promise<PcaCertFacts | null> {
    if (!this.d.store) return null;
    let cert;
    try {
      cert = await this.d.store.certificates.getBySerial(normalizeSerialHex(serialNo));
    } catch {
      return null;
    }
    if (!cert || cert.pcaSerial.toUpperCase() !== serialNo.toUpperCase()) return null;
    const [, ...chain] = splitCertificatePems(cert.fullchainPem);
    return { serialNo, notBeforeMs: cert.notBefore.getTime(), spkiSha256: cert.spkiSha256, certPem: cert.leafPem, caChainPems: chain };
  }

  private remember(facts: PcaCertFacts): PcaCertFacts {
    this.cache.set(facts.serialNo.toUpperCase(), facts);
    if (this.cache.size > this.d.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return facts;
  }
}
