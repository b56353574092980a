import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../platform/logger.js';
import { effectiveBehaviour } from './behaviour.js';
import type { FaultConfig } from './faults.js';
import { startPcaSimulator, type RunningSimulator, type SimulatedCa, type SimulatorOptions } from './index.js';

// The embedded simulator on a thread of its own (issue 11 item 2): its HTTP server, its request
// signatures (HMAC) and its certificate signing run on the second core while the gateway's event
// loop serves ACME. The gateway still talks to it over loopback HTTP exactly as to the NCP PCA, so
// nothing about the single writer changes: the simulator keeps its own journal, the gateway its
// database. Its CPU is the gateway process's, as Pebble's CA is Pebble's.
//
// The thread runs the compiled entry (thread-main.js, beside this file in dist/). Run from the
// TypeScript sources (the test suite), there is no such file, and the simulator runs in-process as
// before; the route tests, which set its faults synchronously, rely on that.

export type ThreadOptions = Omit<SimulatorOptions, 'logger' | 'clock' | 'random'> & {
  /** How the thread logs: its own logger with the gateway's level and format, the credentials scrubbed. */
  log: { level: string; pretty: boolean };
};

export type ThreadReply =
  | { type: 'started'; url: string; caTag: string; rootPemPath: string; rootPem: string; cas: SimulatedCa[] }
  | { type: 'error'; message: string }
  | { type: 'closed' };

const ENTRY = new URL('./thread-main.js', import.meta.url);

/** Whether the compiled thread entry is there (false when running from the TypeScript sources). */
export const simulatorThreadAvailable = (): boolean => ENTRY.protocol === 'file:' && existsSync(fileURLToPath(ENTRY));

/** Starts the simulator on its own thread when it can, else in this one. */
export async function startSimulatorMaybeThreaded(o: ThreadOptions, thread: boolean, logger: Logger): Promise<RunningSimulator & { threaded: boolean }> {
  if (!thread || !simulatorThreadAvailable()) {
    const { log: _log, ...options } = o;
    return { ...(await startPcaSimulator({ ...options, logger })), threaded: false };
  }
  const worker = new Worker(ENTRY, { workerData: o });
  const replies: Array<(r: ThreadReply) => void> = [];
  let exited = false;
  worker.on('message', (r: ThreadReply) => replies.shift()?.(r));
  const next = () => new Promise<ThreadReply>((resolve) => replies.push(resolve));
  const first = next();
  worker.once('error', (err) => {
    logger.error({ err }, 'PCA simulator thread failed');
    replies.splice(0).forEach((r) => r({ type: 'error', message: err.message }));
  });
  worker.once('exit', (code) => {
    exited = true;
    replies.splice(0).forEach((r) => r({ type: 'error', message: `the simulator thread exited (${code})` }));
  });
  const started = await first;
  if (started.type !== 'started') {
    await worker.terminate();
    throw new Error(started.type === 'error' ? started.message : 'the simulator thread did not start');
  }
  let faults: FaultConfig = o.faults ?? {};
  return {
    url: started.url,
    caTag: started.caTag,
    rootPemPath: started.rootPemPath,
    rootPem: started.rootPem,
    cas: started.cas,
    ca: (caTag) => started.cas.find((c) => c.caTag === caTag),
    // Applied by the thread on its next turn; tests that need it at once run in-process (above).
    faults: {
      get: () => faults,
      set: (c) => {
        faults = c;
        worker.postMessage({ type: 'faults', config: c });
      },
      // What the fault endpoint of this side last switched; the thread applies the same overrides.
      behaviour: () => faults.behaviour,
    },
    // As configured, with what was switched through this side (a switch made on the thread's own
    // fault endpoint is not mirrored here; only the standalone simulator CLI reads this, in-process).
    behaviour: () => effectiveBehaviour(o.behaviour, faults.behaviour),
    threaded: true,
    close: async () => {
      if (exited) return;
      const closed = next();
      worker.postMessage({ type: 'close' });
      await closed;
      await worker.terminate();
    },
  };
}
