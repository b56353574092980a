/** "30d", "12h", "90m", "45s" → milliseconds; null when the text is none of those. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d{1,6})([dhms])$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'd' | 'h' | 'm' | 's'];
}

/** `--since`: a duration back from now ("7d") or a date/time ("2026-01-31", ISO 8601); null when neither. */
export function parseSince(text: string, nowMs: number): number | null {
  const ago = parseDurationMs(text);
  if (ago !== null) return nowMs - ago;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}
