// What the processes of a suite that did not end were doing, for .ci/run when a suite reaches its
// time limit. Usage: node --experimental-websocket .ci/stuck-report.mjs SESSION_ID REPORT_DIR
//
// For every process of the session: its state, the kernel function it sleeps in (wchan: a pipe
// write that nobody reads, a futex, a socket), CPU time used and the command line. For each vitest
// worker, the JavaScript stack where it is: SIGUSR1 opens Node's inspector on a thread of its own,
// which can pause a worker even in a loop that never yields (Debugger.pause). Workers idle in the
// event loop also wrote a diagnostic report on SIGUSR2 (vitest.config.ts, VITEST_REPORT_DIR): their
// active handles show what they wait for.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [sid, reportDir] = process.argv.slice(2);
const read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

const processes = [];
for (const entry of readdirSync('/proc')) {
  if (!/^\d+$/.test(entry)) continue;
  const stat = read(`/proc/${entry}/stat`);
  const close = stat.lastIndexOf(')');
  if (close < 0) continue;
  const fields = stat.slice(close + 2).split(' ');
  // After "pid (comm)": state ppid pgrp session ... utime(12) stime(13), counted from state = 0.
  if (fields[3] !== sid) continue;
  const cmd = read(`/proc/${entry}/cmdline`).split('\0').join(' ').trim();
  processes.push({ pid: Number(entry), state: fields[0], wchan: read(`/proc/${entry}/wchan`), cpuTicks: Number(fields[11]) + Number(fields[12]), cmd });
}
for (const p of processes) {
  const cmd = p.cmd.length > 160 ? `${p.cmd.slice(0, 160)}…` : p.cmd;
  console.log(`  ${p.pid} ${p.state} wchan=${p.wchan || '-'} cpu=${p.cpuTicks} ticks: ${cmd}`);
}

for (const worker of processes.filter((p) => p.cmd.includes('vitest/dist/workers/'))) {
  console.log(`\n  JavaScript stack of vitest worker ${worker.pid}:`);
  try {
    for (const line of await pausedStack(worker.pid)) console.log(`    ${line}`);
  } catch (err) {
    console.log(`    not obtained: ${err.message}`);
  }
}

const reports = (() => {
  try {
    return readdirSync(reportDir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
})();
for (const f of reports) {
  try {
    const report = JSON.parse(readFileSync(join(reportDir, f), 'utf8'));
    const active = (report.libuv ?? []).filter((h) => h.is_active).map((h) => `${h.type}${h.remoteEndpoint ? ` to ${h.remoteEndpoint.host}:${h.remoteEndpoint.port}` : ''}`);
    console.log(`\n  diagnostic report of ${report.header?.processId}: active handles: ${active.join(', ') || 'none'}`);
  } catch (err) {
    console.log(`  ${f}: unreadable (${err.message})`);
  }
}

/** Opens the inspector of `pid` (SIGUSR1), pauses it and returns its call frames. */
async function pausedStack(pid) {
  process.kill(pid, 'SIGUSR1');
  // The inspector listens on 127.0.0.1:9229 once its thread has started.
  let targets;
  for (let i = 0; i < 50 && !targets; i++) {
    await new Promise((r) => setTimeout(r, 100));
    targets = await fetch('http://127.0.0.1:9229/json/list').then((r) => r.json(), () => undefined);
  }
  if (!targets?.length) throw new Error('the inspector did not open on 127.0.0.1:9229');
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pause within 10 s')), 10_000);
      let id = 0;
      const send = (method, params = {}) => ws.send(JSON.stringify({ id: ++id, method, params }));
      ws.onerror = () => reject(new Error('inspector connection failed'));
      ws.onopen = () => {
        send('Debugger.enable');
        send('Debugger.pause');
      };
      // Vitest evaluates test modules without a script URL on the frame; Debugger.scriptParsed
      // (sent for every script on Debugger.enable) names them.
      const scriptUrls = new Map();
      ws.onmessage = (event) => {
        const msg = JSON.parse(String(event.data));
        if (msg.method === 'Debugger.scriptParsed') scriptUrls.set(msg.params.scriptId, msg.params.url || msg.params.sourceMapURL?.slice(0, 80) || '');
        if (msg.method !== 'Debugger.paused') return;
        clearTimeout(timer);
        const frames = msg.params.callFrames.map((f) => `${f.functionName || '(anonymous)'} ${f.url || scriptUrls.get(f.location.scriptId) || '?'}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1}`);
        resolve(frames.slice(0, 30));
      };
    });
  } finally {
    ws.close();
  }
}
