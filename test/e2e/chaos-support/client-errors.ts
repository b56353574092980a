import type { ClientError } from './acme.js';

// Which of the errors the test clients retried through a SIGKILL explains: a connection refused
// while no process listened, or reset / closed under a request when the process died. Anything else
// (a 5xx, a badNonce, a timeout, a reset while the gateway was up) is something the gateway did.

/** Socket error codes of a server process that is gone or not listening yet (undici and libuv names). */
const KILL_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

export interface DownWindow {
  from: number;
  to: number;
}

export interface ClientErrorReport {
  /** Errors a kill explains, counted by `${method} ${code}`. */
  explained: Record<string, number>;
  explainedTotal: number;
  unexplained: ClientError[];
}

/** Whether the request was in flight at some moment while the gateway was down. */
function duringDowntime(e: ClientError, windows: readonly DownWindow[]): boolean {
  return windows.some((w) => e.sentAt <= w.to && e.failedAt >= w.from);
}

export function explainByKills(errors: readonly ClientError[], windows: readonly DownWindow[]): ClientErrorReport {
  const explained: Record<string, number> = {};
  const unexplained: ClientError[] = [];
  for (const e of errors) {
    if (e.kind === 'connection' && KILL_CODES.has(e.code) && duringDowntime(e, windows)) {
      const key = `${e.method} ${e.code}`;
      explained[key] = (explained[key] ?? 0) + 1;
    } else {
      unexplained.push(e);
    }
  }
  return { explained, explainedTotal: errors.length - unexplained.length, unexplained };
}

/** One line per error, with times relative to `t0`, for a failure message. */
export function describeClientErrors(errors: readonly ClientError[], t0: number): string[] {
  return errors.map((e) => `${e.kind} ${e.method} ${e.url} → ${e.code} (sent +${e.sentAt - t0} ms, failed +${e.failedAt - t0} ms): ${e.message.slice(0, 160)}`);
}
