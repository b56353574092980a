import { X509Certificate } from 'node:crypto';
import { spkiSha256OfCert } from '../acme/issued-check.js';
import type { PcaClient } from '../pca/types.js';

// Walking the PCA's own record of what it issued (ncp-pca-api §3.4 list, §3.5 get). The list API
// pages serial numbers only and its order is undocumented (§4.11), so the direction is read off the
// data and the walk always starts at the newest end. Used by reconciliation (did the PCA issue for
// this key?) and by the audit (did the PCA issue anything we have no record of?).

/** One PCA certificate as a search sees it. */
export interface PcaCertFacts {
  serialNo: string;
  notBeforeMs: number;
  /** null when the PCA's PEM cannot be parsed. */
  spkiSha256: string | null;
  certPem: string;
  caChainPems: string[];
}

export interface WalkGuard {
  /** Certificates looked at, at most; past it the walk throws `SearchIncomplete`. */
  maxLookups: number;
  /** Called before each lookup that is not cached; throws (e.g. SearchIncomplete) when out of time. */
  beforeLookup(): void;
}

/** The walk could not cover everything it had to: what it found proves nothing about the rest. */
export class SearchIncomplete extends Error {}

/** Certificate facts remembered between searches (they never change); oldest dropped first. */
const DEFAULT_CACHE_SIZE = 20_000;

export class PcaCertificateSearch {
  private readonly cache = new Map<string, PcaCertFacts>();

  constructor(
    private readonly pca: PcaClient,
    private readonly cacheSize = DEFAULT_CACHE_SIZE,
  ) {}

  /**
   * Visits the PCA's certificates newest first until `visit` returns false or the list ends. Throws
   * SearchIncomplete past `guard.maxLookups`, and whatever `guard.beforeLookup` throws.
   */
  async walkNewestFirst(visit: (facts: PcaCertFacts) => boolean | Promise<boolean>, guard: WalkGuard): Promise<void> {
    const first = await this.pca.listCerts(1);
    const pages = Math.max(first.totalPageNo, 1);
    const newestFirst = await this.listIsNewestFirst(first.serials, pages);
    let looked = 0;
    for (let i = 0; i < pages; i++) {
      const pageNo = newestFirst ? i + 1 : pages - i;
      guard.beforeLookup();
      const page = pageNo === 1 ? first : await this.pca.listCerts(pageNo);
      const serials = newestFirst ? page.serials : [...page.serials].reverse();
      for (const serialNo of serials) {
        if (++looked > guard.maxLookups) throw new SearchIncomplete(`search incomplete: more than ${guard.maxLookups} certificates to look at`);
        if (!this.cache.has(serialNo.toUpperCase())) guard.beforeLookup();
        if (!(await visit(await this.lookup(serialNo)))) return;
      }
    }
  }

  /** Compares the ends of page 1 (or page 1 with the last page); oldest-first when it cannot tell. */
  private async listIsNewestFirst(page1: string[], pages: number): Promise<boolean> {
    const a = page1[0];
    let b = page1[page1.length - 1];
    if (pages > 1 && a !== undefined) b = (await this.pca.listCerts(pages)).serials.at(-1) ?? b;
    if (a === undefined || b === undefined || a === b) return false;
    const [fa, fb] = [await this.lookup(a), await this.lookup(b)];
    return fa.notBeforeMs > fb.notBeforeMs;
  }

  async lookup(serialNo: string): Promise<PcaCertFacts> {
    const key = serialNo.toUpperCase();
    const cached = this.cache.get(key);
    if (cached) return cached;
    const info = await this.pca.getCert(serialNo);
    let spkiSha256: string | null = null;
    try {
      spkiSha256 = spkiSha256OfCert(new X509Certificate(info.certPem));
    } catch {
      /* an unparsable entry is not ours to adopt */
    }
    const facts: PcaCertFacts = { serialNo, notBeforeMs: info.notBefore.getTime(), spkiSha256, certPem: info.certPem, caChainPems: info.caChainPems };
    this.cache.set(key, facts);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return facts;
  }
}
