import 'reflect-metadata'; // first: @peculiar/x509 (CA creation) needs it, and a thread is a fresh isolate
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../platform/logger.js';
import { startPcaSimulator } from './index.js';
import type { ThreadOptions, ThreadReply } from './thread.js';

// The simulator thread's entry (thread.ts): starts the simulator with the options it was given,
// answers `started` (or `error`), then applies fault changes and closes when asked.

const o = workerData as ThreadOptions;
const port = parentPort!;
const reply = (r: ThreadReply) => port.postMessage(r);
const { log, ...options } = o;
const logger = createLogger({ level: log.level, pretty: log.pretty, secrets: [o.accessKey, o.secretKey] }).child({ component: 'pca-simulator' });

startPcaSimulator({ ...options, logger }).then(
  (running) => {
    port.on('message', (m: { type: 'faults'; config: never } | { type: 'close' }) => {
      if (m.type === 'faults') running.faults.set(m.config);
      else
        void running.close().then(
          () => reply({ type: 'closed' }),
          () => reply({ type: 'closed' }),
        );
    });
    reply({ type: 'started', url: running.url, caTag: running.caTag, rootPemPath: running.rootPemPath, rootPem: running.rootPem, cas: running.cas });
  },
  (err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);
