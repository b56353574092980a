import { describe, expect, it } from 'vitest';
import { ListWalkCheck } from './paging.js';
import type { PcaCertPage } from './types.js';

// Every rule a list page is held to (paging.ts), one case each, so that dropping a rule fails here.

const serials = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i).toString(16).padStart(2, '0').toUpperCase());
const page = (list: string[], totalCnt: number, totalPageNo: number, currentPageNo: number | null): PcaCertPage => ({ serials: list, totalCnt, totalPageNo, currentPageNo });

describe('ListWalkCheck', () => {
  it('a well-behaved list of 250 in pages of 100 passes, page by page and as a whole', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 250, 3, 1))).toBeNull();
    expect(c.page(3, page(serials(200, 50), 250, 3, 3))).toBeNull();
    expect(c.page(2, page(serials(100, 100), 250, 3, 2))).toBeNull();
    expect(c.complete()).toBeNull();
  });

  it('the same page asked for twice (the direction probe, then the walk) is no repeat', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 150, 2, 1))).toBeNull();
    expect(c.page(2, page(serials(100, 50), 150, 2, 2))).toBeNull();
    expect(c.page(2, page(serials(100, 50), 150, 2, 2))).toBeNull();
  });

  it('a page that says it is another page than the one asked for: pageNo is not honoured', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 150, 2, 1))).toBeNull();
    expect(c.page(2, page(serials(0, 100), 150, 2, 1))).toBe('the PCA answered page 1 when asked for page 2: it does not honour pageNo');
  });

  it('two page numbers with the same serials, even when each says it is the page asked for', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 150, 2, 1))).toBeNull();
    expect(c.page(2, page(serials(0, 100), 150, 2, 2))).toBe('pages 1 and 2 list the same 100 certificates: the PCA seems to ignore pageNo');
  });

  it('no currentPageNo at all: the content check still catches a repeated page', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 150, 2, null))).toBeNull();
    expect(c.page(2, page(serials(0, 100), 150, 2, null))).toMatch(/pages 1 and 2 list the same/);
  });

  it.each([
    [page(serials(0, 100), 150, 1, 1), 'the PCA says 150 certificates on 1 page, but page 1 lists 100'],
    [page(serials(0, 100), 350, 3, 1), '350 certificates cannot fill 3 pages of 100: the PCA\'s totals do not add up'],
    [page(serials(0, 100), 200, 3, 1), '200 certificates cannot fill 3 pages of 100: the PCA\'s totals do not add up'],
    [page([], 50, 2, 1), '50 certificates cannot fill 2 pages of 0: the PCA\'s totals do not add up'],
    [page(serials(0, 3), 0, 0, 1), 'page 1 lists 3 certificates of 0 in 0 pages'],
  ])("page 1's totals must add up: %j", (first, problem) => {
    expect(new ListWalkCheck().page(1, first)).toBe(problem);
  });

  it('an empty list (0 pages or 1) and a one-page list pass', () => {
    expect(new ListWalkCheck().page(1, page([], 0, 0, 1))).toBeNull();
    expect(new ListWalkCheck().page(1, page([], 0, 1, 1))).toBeNull();
    expect(new ListWalkCheck().page(1, page(serials(0, 7), 7, 1, 1))).toBeNull();
  });

  it('a later page larger than page 1', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 150, 2, 1))).toBeNull();
    expect(c.page(2, page(serials(100, 101), 150, 2, 2))).toBe('page 2 lists 101 certificates, more than page 1 (100): the pages do not have one size');
  });

  it('every page read but fewer serials than the list said', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 150, 2, 1))).toBeNull();
    expect(c.page(2, page(serials(100, 20), 150, 2, 2))).toBeNull();
    expect(c.complete()).toBe('the PCA said it holds 150 certificates, but its pages listed 120');
  });

  it('a list that grew while it was read is complete (more serials than at first)', () => {
    const c = new ListWalkCheck();
    expect(c.page(1, page(serials(0, 100), 120, 2, 1))).toBeNull();
    expect(c.page(2, page(serials(100, 25), 125, 2, 2))).toBeNull();
    expect(c.complete()).toBeNull();
  });
});
