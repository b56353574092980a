// Output helpers of the admin commands: aligned tables for people, JSON for scripts, a progress bar
// on stderr (redrawn in place on a terminal, a line per tenth otherwise, so logs stay readable).

export type Out = NodeJS.WritableStream & { isTTY?: boolean };

/** Columns padded to their widest cell; an empty result says so instead of printing a bare header. */
export function table(out: Out, headers: string[], rows: Array<Array<string | number | null | undefined>>, empty = '(none)'): void {
  if (rows.length === 0) {
    out.write(`${empty}\n`);
    return;
  }
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out.write(`${line(headers)}\n`);
  for (const r of cells) out.write(`${line(r)}\n`);
}

export const json = (out: Out, value: unknown): void => {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
};

export interface Progress {
  update(done: number, total: number): void;
  finish(message: string): void;
}

export function progressBar(err: Out, label: string): Progress {
  const tty = err.isTTY === true;
  let lastTenth = -1;
  return {
    update(done, total) {
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        err.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}% (${done}/${total})`);
        return;
      }
      const tenth = Math.floor(fraction * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        err.write(`${label}: ${tenth * 10}% (${done}/${total})\n`);
      }
    },
    finish(message) {
      err.write(`${tty ? '\n' : ''}${message}\n`);
    },
  };
}
