import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { table } from './stats.js';

// --profile: a V8 CPU profile of this process (the gateway and its embedded PCA simulator; the load
// runs in another process) over the measured run, saved as .cpuprofile (open it in Chrome DevTools)
// and summarised as text: self time per function, time per package / source area, and inclusive
// time of the gateway's own functions.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export class Profiler {
  private readonly session = new Session();

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 200 }); // µs
    await this.session.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = (await this.session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    await this.session.post('Profiler.disable');
    this.session.disconnect();
    return profile;
  }
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

/** Where a frame's code lives: an npm package, a gateway source file, Node internals, or native. */
function area(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const src = /\/dist\/(src|bench)\/(.+?)\.js$/.exec(url);
  if (src) return `${src[1]}/${src[2]}.ts`;
  if (url.startsWith('node:')) return 'node internals';
  return url.replace(/^file:\/\//, '');
}

/** Maps compiled dist/ positions back to the .ts line through the build's .js.map files. */
class SourceLines {
  private readonly maps = new Map<string, SourceMap | null>();

  line(f: CallFrame): number {
    if (!f.url.startsWith('file://') || !f.url.includes('/dist/')) return f.lineNumber + 1;
    let map = this.maps.get(f.url);
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(f.url)}.map`, 'utf8')));
      } catch {
        map = null;
      }
      this.maps.set(f.url, map);
    }
    const entry = map?.findEntry(f.lineNumber, f.columnNumber) as { originalLine?: number } | undefined;
    return entry?.originalLine !== undefined ? entry.originalLine + 1 : f.lineNumber + 1;
  }
}

function frameKey(f: CallFrame, lines: SourceLines): string {
  const file = f.url ? area(f.url) : '';
  return `${f.functionName || '(anonymous)'}  ${file}${f.url ? `:${lines.line(f)}` : ''}`;
}

export function summarizeProfile(profile: CpuProfile, top = 15): string {
  const lines = new SourceLines();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000; // ms
    const node = byId.get(id)!;
    total += dt;
    const name = node.callFrame.functionName;
    if (name === '(garbage collector)') gc += dt;
    if (IDLE.has(name)) return;
    busy += dt;
    // Native code (V8 builtins, addons such as better-sqlite3, OpenSSL bindings) has no URL: name
    // it after the nearest JavaScript caller, which is what a fix would change.
    let key = frameKey(node.callFrame, lines);
    if (!node.callFrame.url) {
      for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        if (!f.url) continue;
        key = `${node.callFrame.functionName || '(native)'} (native) ← ${frameKey(f, lines)}`;
        break;
      }
    }
    self.set(key, (self.get(key) ?? 0) + dt);
    const a = area(node.callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    // Inclusive time of gateway functions: each function once per stack (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!/\/dist\/src\//.test(f.url)) continue;
      const k = frameKey(f, lines);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  });

  const pct = (v: number) => `${((100 * v) / Math.max(busy, 1e-9)).toFixed(1)}%`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, v.toFixed(0), pct(v)]);
  return [
    `   profile: ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy on the main thread (+ ${gc.toFixed(0)} ms GC); % of busy time`,
    '',
    table(['self time by function', 'ms', '%'], rows(self, top + 5), '   '),
    '',
    table(['self time by package / source file', 'ms', '%'], rows(areas, top), '   '),
    '',
    table(['inclusive time of gateway functions (src/)', 'ms', '%'], rows(inclusive, top + 5), '   '),
  ].join('\n');
}
