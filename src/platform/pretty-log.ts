import { Writable } from 'node:stream';

// Readable log lines for a terminal: pino writes one JSON object per line, this turns each into
// "12:04:05.123 INFO  message  key=value …" with the level coloured. A few dozen lines instead of
// pino-pretty and its dependencies; anything that is not a JSON line passes through unchanged.

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** One JSON log line as a readable line (without the newline); the line itself when it is not JSON. */
export function formatLogLine(line: string, color = true): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object') return line;
  const { level, time, msg, ...rest } = entry;
  const [name, tint] = LEVELS[level as number] ?? [String(level).padEnd(5), ''];
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const err = rest.err as { message?: string; stack?: string } | undefined;
  if (err && typeof err === 'object') rest.err = err.message ?? err;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  const head = color ? `${DIM}${clock}${RESET} ${tint}${name}${RESET}` : `${clock} ${name}`;
  const tail = fields ? (color ? `  ${DIM}${fields}${RESET}` : `  ${fields}`) : '';
  const stack = err?.stack ? `\n${err.stack}` : '';
  return `${head} ${String(msg ?? '')}${tail}${stack}`;
}

/** A stream for pino that writes each line formatted to `out`. */
export function prettyStream(out: NodeJS.WritableStream, color = true): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (l) out.write(`${formatLogLine(l, color)}\n`);
      done();
    },
  });
}
