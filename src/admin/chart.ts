// The console's one chart: certificates issued and orders failed per day, as inline SVG (no script,
// no library): one pair of bars a day, a scale on the left, the dates at both ends.

export interface DayBar {
  day: string;
  issued: number;
  failed: number;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function dailyChartSvg(days: readonly DayBar[], width = 720, height = 180): string {
  const left = 36;
  const bottom = 22;
  const top = 10;
  const plotW = width - left - 8;
  const plotH = height - bottom - top;
  const max = Math.max(1, ...days.map((d) => Math.max(d.issued, d.failed)));
  const slot = plotW / Math.max(1, days.length);
  const bar = Math.max(1, slot / 2 - 1);
  const y = (n: number) => top + plotH - (n / max) * plotH;
  const bars = days
    .map((d, i) => {
      const x = left + i * slot;
      const title = `${d.day}: ${d.issued} issued, ${d.failed} failed`;
      return (
        `<g><title>${esc(title)}</title>` +
        `<rect class="issued" x="${x.toFixed(1)}" y="${y(d.issued).toFixed(1)}" width="${bar.toFixed(1)}" height="${(top + plotH - y(d.issued)).toFixed(1)}"/>` +
        `<rect class="failed" x="${(x + bar + 1).toFixed(1)}" y="${y(d.failed).toFixed(1)}" width="${bar.toFixed(1)}" height="${(top + plotH - y(d.failed)).toFixed(1)}"/></g>`
      );
    })
    .join('');
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  return (
    `<svg role="img" aria-label="certificates issued and orders failed per day" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">` +
    `<line x1="${left}" y1="${top + plotH}" x2="${width - 8}" y2="${top + plotH}" class="axis"/>` +
    `<text x="${left - 4}" y="${top + 8}" text-anchor="end">${max}</text><text x="${left - 4}" y="${top + plotH}" text-anchor="end">0</text>` +
    bars +
    `<text x="${left}" y="${height - 6}">${esc(first)}</text><text x="${width - 8}" y="${height - 6}" text-anchor="end">${esc(last)}</text>` +
    `</svg>`
  );
}
