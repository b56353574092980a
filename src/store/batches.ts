// Housekeeping deletes in bounded batches (issue 11): a nonce table a busy day filled holds millions
// of rows, and one DELETE of them all holds SQLite's only writer (and, with better-sqlite3, the
// event loop) for seconds; on PostgreSQL it holds a long transaction and its locks. Each batch is one
// short statement, and the event loop turns between batches, so requests go on while it runs.

/** Rows one statement deletes at most. */
export const PRUNE_BATCH = 1_000;

/** Runs deleteBatch(limit) until a batch deletes fewer than `limit` rows; returns the total deleted. */
export async function deleteInBatches(deleteBatch: (limit: number) => Promise<number> | number, limit = PRUNE_BATCH): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteBatch(limit);
    total += n;
    if (n < limit) return total;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
