import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sleep } from './gateway-process.js';

// Waiting for a running gateway to go quiet, by reading its SQLite file (WAL mode lets a read-only
// reader in beside the writer).

export interface Liveness {
  liveJobs: number;
  processingOrders: number;
}

export function liveness(sqlitePath: string): Liveness {
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const liveJobs = (db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')").get() as { n: number }).n;
    const processingOrders = (db.prepare("SELECT COUNT(*) AS n FROM orders WHERE status = 'processing'").get() as { n: number }).n;
    return { liveJobs, processingOrders };
  } finally {
    db.close();
  }
}

/** Polls until no job is queued or running and no order is processing; returns the last reading. */
export async function waitUntilQuiet(sqlitePath: string, timeoutMs: number): Promise<Liveness & { waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const l = liveness(sqlitePath);
    if ((l.liveJobs === 0 && l.processingOrders === 0) || Date.now() - started > timeoutMs) return { ...l, waitedMs: Date.now() - started };
    await sleep(250);
  }
}

/** The simulator's own journal (pca/issued.jsonl): serials of every certificate it ever issued. */
export function journalSerials(simulatorDir: string): string[] {
  const text = fs.readFileSync(path.join(simulatorDir, 'issued.jsonl'), 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const l = JSON.parse(line) as { type: string; record?: { serialNo: string } };
      if (l.type === 'issue' && l.record) out.push(l.record.serialNo);
    } catch {
      /* torn last line after SIGKILL */
    }
  }
  return out;
}
