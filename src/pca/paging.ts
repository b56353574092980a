import type { PcaCertPage } from './types.js';

// Paging that proves itself (issue 10). GET /ca/{caTag}/cert pages its serials with `pageNo`, a
// parameter only NAVER's SDK documents (ncp-pca-api §3.4, §4.11): a PCA that ignored it would answer
// page 1 to every request, and a walk that trusted it would read page 1 again and again and call the
// search complete. So every page is held to what it says of itself and of the list: the page asked
// for (currentPageNo), a page size and totals that agree, no two page numbers with the same serials,
// and, once every page was read, as many serials as the list said it has. A failed check makes the
// search incomplete — what it found proves nothing about the rest — never "not issued".

/** A walk over the PCA's list that checks every page it is given. */
export class ListWalkCheck {
  private first: PcaCertPage | null = null;
  private readonly contents = new Map<string, number>();
  private readonly serials = new Set<string>();

  /** Checks one page (`asked`: the pageNo sent); the reason it cannot be trusted, or null. */
  page(asked: number, page: PcaCertPage): string | null {
    if (page.currentPageNo !== null && page.currentPageNo !== asked) {
      return `the PCA answered page ${page.currentPageNo} when asked for page ${asked}: it does not honour pageNo`;
    }
    const first = this.first ?? page;
    if (!this.first) {
      this.first = page;
      const problem = totalsProblem(page);
      if (problem) return problem;
    } else if (page.serials.length > first.serials.length) {
      return `page ${asked} lists ${page.serials.length} certificates, more than page 1 (${first.serials.length}): the pages do not have one size`;
    }
    if (page.serials.length > 0) {
      const key = page.serials.join(',');
      const other = this.contents.get(key);
      if (other !== undefined && other !== asked) {
        return `pages ${other} and ${asked} list the same ${page.serials.length} certificates: the PCA seems to ignore pageNo`;
      }
      this.contents.set(key, asked);
    }
    for (const s of page.serials) this.serials.add(s.toUpperCase());
    return null;
  }

  /** After every page of the list was read: whether they held as many serials as the list said. */
  complete(): string | null {
    const expected = this.first?.totalCnt ?? 0;
    if (this.serials.size < expected) return `the PCA said it holds ${expected} certificates, but its pages listed ${this.serials.size}`;
    return null;
  }
}

/** What page 1 says of the whole list must add up: its size, totalCnt and totalPageNo. */
function totalsProblem(page: PcaCertPage): string | null {
  const { totalCnt, totalPageNo } = page;
  const size = page.serials.length;
  if (totalCnt === 0) return size === 0 && totalPageNo <= 1 ? null : `page 1 lists ${size} certificates of ${totalCnt} in ${totalPageNo} pages`;
  if (totalPageNo <= 1) return size === totalCnt ? null : `the PCA says ${totalCnt} certificates on ${totalPageNo || 'no'} page, but page 1 lists ${size}`;
  if (size === 0 || (totalPageNo - 1) * size >= totalCnt || totalPageNo * size < totalCnt) {
    return `${totalCnt} certificates cannot fill ${totalPageNo} pages of ${size}: the PCA's totals do not add up`;
  }
  return null;
}
