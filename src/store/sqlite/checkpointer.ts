import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// WAL checkpoints off the event loop (issue 11). In WAL mode SQLite copies the log back into the
// database file when a commit finds the log past `wal_autocheckpoint` pages (1,000 by default), and
// it does so inside that commit: on the gateway's one thread, with two fsyncs of the log and one of
// the database file. Under vs-pebble's load that was a checkpoint every ~11 orders and ~6 ms each,
// half a millisecond per order during which no request moved (strace, bench/RESULTS.md). Here a
// thread with its own connection runs a PASSIVE checkpoint every `everyMs`: a checkpoint runs beside
// the writer and its readers without taking the write lock (https://sqlite.org/wal.html,
// "Checkpointing"), so the fsyncs wait on the second core. The writer keeps its own autocheckpoint
// as a backstop at a much larger size, and falls back to the default if the thread ends.
//
// The thread is a few lines of CommonJS given as source (`eval`), so that it is the same code
// whether the gateway runs compiled or from the TypeScript sources (the test suite).

const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
// A checkpoint that finds the database busy is skipped (PASSIVE never waits), and tried again.
db.pragma('busy_timeout = 0');
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String((err && err.message) || err) });
  }
}, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ type: 'stopped' });
  parentPort.close();
});
`;

export interface CheckpointerEvents {
  /** A checkpoint failed (the thread goes on and tries again). */
  onError?: (message: string) => void;
  /** The thread ended without being stopped (it could not open the database, or it crashed). */
  onEnded?: (reason: string) => void;
}

/** A thread checkpointing one SQLite database in WAL mode. */
export class WalCheckpointer {
  private stopping = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    events: CheckpointerEvents,
  ) {
    worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'error') events.onError?.(m.message ?? 'checkpoint failed');
    });
    let failure: string | null = null;
    worker.on('error', (err) => (failure = err.message));
    this.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        if (!this.stopping) events.onEnded?.(failure ?? `the checkpoint thread exited (${code})`);
        resolve();
      }),
    );
    worker.unref();
  }

  /** Starts checkpointing `path` every `everyMs`. */
  static start(path: string, everyMs: number, events: CheckpointerEvents = {}): WalCheckpointer {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    return new WalCheckpointer(new Worker(THREAD_SOURCE, { eval: true, workerData: { path, everyMs, driver } }), events);
  }

  /** Closes the thread's connection and waits for the thread to end (terminated after timeoutMs). */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
