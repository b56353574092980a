import { dailyChartSvg, type DayBar } from './chart.js';
import type { CertificateView, OrderDetail } from './read-model.js';

// The console at / of the admin listener: one server-rendered, read-only page with a little inline
// CSS and an inline SVG chart; no script and no build step. It answers the on-call questions in
// order: is the PCA healthy, how long does the CA have, is issuance working (the chart), what expires
// soon without a renewal, and what happened to the last orders (a failed one's problem in words).

export interface ConsoleData {
  generatedAt: Date;
  ready: { ok: boolean; reason?: string };
  /** Each directory's PCA, the default directory first. */
  pcas: Array<{ directory: string; breaker: string; reachable: boolean | null; detail: string; caNotReady: string | null }>;
  ca: Array<{ role: string; subject: string; notAfter: string; daysLeft: number }>;
  daily: DayBar[];
  expiring: CertificateView[];
  recentOrders: OrderDetail[];
  jobs: Array<{ kind: string; depth: number; oldestQueuedRunAt: number | null }>;
}

type PcaHealth = ConsoleData['pcas'][number];

/** One word for a directory's PCA: what an operator acts on first (unreachable, then the CA, then the breaker). */
const pcaWord = (p: PcaHealth) => (p.reachable === false ? 'unreachable' : p.caNotReady ? 'cannot issue' : p.breaker === 'closed' ? 'healthy' : p.breaker);
const pcaClass = (p: PcaHealth) => ({ healthy: 'ok', 'half-open': 'warn' })[pcaWord(p)] ?? 'bad';
const breakerClass = (breaker: string) => (breaker === 'closed' ? 'ok' : breaker === 'open' ? 'bad' : 'warn');

/** The Private CA card: one directory as a headline; several as a headline over a row each. */
function pcaCard(pcas: PcaHealth[]): string {
  const line = (p: PcaHealth) =>
    `<div>circuit breaker: <strong class="${breakerClass(p.breaker)}">${esc(p.breaker)}</strong></div><div>${esc(p.detail)}</div>${p.caNotReady ? `<div class="bad">${esc(p.caNotReady)}</div>` : ''}`;
  if (pcas.length === 1) {
    const p = pcas[0]!;
    return `<section class="card" id="pca"><h2>Private CA</h2><div class="big ${pcaClass(p)}">${esc(pcaWord(p))}</div>\n${line(p)}</section>`;
  }
  const unhealthy = pcas.filter((p) => pcaWord(p) !== 'healthy').length;
  const headline = unhealthy === 0 ? `<div class="big ok">healthy</div>` : `<div class="big bad">${unhealthy} of ${pcas.length} not healthy</div>`;
  const rows = pcas.map((p) => `<tr data-directory="${esc(p.directory)}"><td>${esc(p.directory)}</td><td class="${pcaClass(p)}">${esc(pcaWord(p))}</td><td>${line(p)}</td></tr>`).join('');
  return `<section class="card" id="pca"><h2>Private CAs</h2>${headline}<table>${rows}</table></section>`;
}

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header{background:#1d2430;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:baseline}
header h1{font-size:18px;margin:0}main{padding:16px 24px;max-width:1100px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;margin-bottom:16px}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}th{color:#5a6475;font-weight:600}
.cards{display:flex;gap:16px;flex-wrap:wrap}.card{flex:1;min-width:200px}
.big{font-size:26px;font-weight:700}.ok{color:#137a3a}.bad{color:#b3261e}.warn{color:#9a6700}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;background:#eef0f3}
.badge.valid{background:#d8f3df}.badge.invalid{background:#fbdcdc}.badge.processing,.badge.pending,.badge.ready{background:#fff3cd}
details{border-bottom:1px solid #eef0f3;padding:4px 0}summary{cursor:pointer}
.timeline{margin:6px 0 6px 18px;padding:0;list-style:none;font-size:13px}.timeline li{margin:2px 0}
.timeline time{color:#5a6475;font-family:ui-monospace,monospace;margin-right:8px}
.explain{background:#fff4f4;border-left:3px solid #b3261e;padding:6px 10px;margin:6px 0}
svg text{font-size:11px;fill:#5a6475}svg .issued{fill:#2e7d4f}svg .failed{fill:#c62828}svg .axis{stroke:#aab2bf}
.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
code{font-family:ui-monospace,monospace;font-size:12px}.muted{color:#5a6475}`;

function orderBlock(o: OrderDetail): string {
  const failed = o.status === 'invalid';
  const items = o.timeline
    .map((e) => `<li><time>${esc(e.at.slice(11, 23))}</time>${esc(e.summary)}${e.explanation && e.event !== 'order.failed' ? `<div class="explain">${esc(e.explanation)}</div>` : ''}</li>`)
    .join('');
  return (
    `<details class="order" data-order="${esc(o.id)}"${failed ? ' open' : ''}><summary><span class="badge ${esc(o.status)}">${esc(o.status)}</span> ` +
    `<code>${esc(o.id)}</code> ${esc(o.names.join(', '))} <span class="muted">${esc(o.createdAt.replace('T', ' ').slice(0, 19))} · account <code>${esc(o.account)}</code></span></summary>` +
    (failed ? `<div class="explain"><strong>Why it failed:</strong> ${esc(o.explanation || o.problem?.detail || 'no problem recorded')}</div>` : '') +
    `<ul class="timeline">${items}</ul></details>`
  );
}

export function renderConsole(d: ConsoleData): string {
  const caDays = d.ca.length ? Math.min(...d.ca.map((c) => c.daysLeft)) : null;
  const issued = d.daily.reduce((n, x) => n + x.issued, 0);
  const failed = d.daily.reduce((n, x) => n + x.failed, 0);
  const jobs = d.jobs.map((j) => `${esc(j.kind)} ${j.depth}`).join(', ') || 'none';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>acme-pca-gateway console</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${CSS}</style></head><body>
<header><h1>acme-pca-gateway</h1><span>${d.ready.ok ? '<span class="ok">ready</span>' : `<span class="bad">not ready: ${esc(d.ready.reason)}</span>`} · ${esc(d.generatedAt.toISOString().replace('T', ' ').slice(0, 19))} UTC</span></header>
<main>
<div class="cards">
${pcaCard(d.pcas)}
<section class="card" id="ca-days"><h2>CA lifetime</h2><div class="big ${caDays === null ? '' : caDays < 30 ? 'bad' : caDays < 180 ? 'warn' : 'ok'}">${caDays === null ? 'unknown' : `${caDays} days left`}</div>
<table>${d.ca.map((c) => `<tr><td>${esc(c.role)}</td><td>${esc(c.subject)}</td><td>${esc(c.notAfter.slice(0, 10))}</td><td>${c.daysLeft} d</td></tr>`).join('')}</table></section>
<section class="card" id="last30"><h2>Last 30 days</h2><div class="big">${issued} issued</div><div class="${failed ? 'bad' : ''}">${failed} failed orders</div><div>job queue: ${jobs}</div></section>
</div>
<section id="chart"><h2>Issuance and failures per day</h2><div class="legend"><span><i style="background:#2e7d4f"></i>issued</span><span><i style="background:#c62828"></i>failed</span></div>${dailyChartSvg(d.daily)}</section>
<section id="expiring"><h2>Expiring within 30 days, not renewed (${d.expiring.length})</h2>
${d.expiring.length ? `<table><tr><th>serial</th><th>names</th><th>expires</th><th>days left</th><th>account</th></tr>${d.expiring.map((c) => `<tr><td><code>${esc(c.serial)}</code></td><td>${esc(c.names.join(', '))}</td><td>${esc(c.notAfter.slice(0, 16).replace('T', ' '))}</td><td class="${c.daysLeft < 7 ? 'bad' : 'warn'}">${c.daysLeft}</td><td><code>${esc(c.account)}</code></td></tr>`).join('')}</table>` : '<p>None: every certificate expiring within 30 days has been renewed.</p>'}
</section>
<section id="orders"><h2>Recent orders</h2>${d.recentOrders.length ? d.recentOrders.map(orderBlock).join('') : '<p>No orders yet.</p>'}</section>
</main></body></html>`;
}
