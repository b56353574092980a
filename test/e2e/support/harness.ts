import { afterAll, beforeEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeResult, runCommand, spawnManaged, type CommandResult, type ManagedProcess, type RunOptions, type SpawnOptions } from './process.js';
import { PortAllocator } from './ports.js';

// One Harness per test file: it owns the temp dirs, ports and processes the file creates, stops them
// in afterAll, and prints everything they wrote when a test fails (a bare "exit code 1" from certbot
// is useless). Set ACME_E2E_KEEP_TMP=1 to keep the temp dirs for a post-mortem.

const DUMP_TAIL_CHARS = 30_000;

export interface Harness {
  /** A fresh directory under the OS temp dir, removed in afterAll. */
  tempDir(prefix: string): string;
  freePort(opts?: { udp?: boolean }): Promise<number>;
  /** Long-running process; stopped in afterAll; its output is dumped when a test fails. */
  spawn(name: string, command: string, args: readonly string[], opts?: SpawnOptions): ManagedProcess;
  /** Runs a command; the result is remembered and dumped when a test fails. */
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** Like run(), but throws (with the full output in the message) unless the exit code is 0. */
  runOk(command: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** Extra text to show when a test fails (e.g. a client's log file), read lazily at dump time. */
  attachLog(label: string, read: () => string): void;
  /** Prints every captured output; called automatically when a test fails. */
  dump(): void;
  stopAll(): Promise<void>;
}

export function useHarness(fileLabel: string): Harness {
  const ports = new PortAllocator();
  const dirs: string[] = [];
  const procs: ManagedProcess[] = [];
  const runs: CommandResult[] = [];
  const logs: { label: string; read: () => string }[] = [];

  const tail = (s: string): string => (s.length > DUMP_TAIL_CHARS ? `[... ${s.length - DUMP_TAIL_CHARS} chars cut ...]\n${s.slice(-DUMP_TAIL_CHARS)}` : s);

  const harness: Harness = {
    tempDir(prefix) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `acme-e2e-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
    freePort: (opts) => ports.next(opts),
    spawn(name, command, args, opts) {
      const p = spawnManaged(name, command, args, opts);
      procs.push(p);
      return p;
    },
    async run(command, args, opts) {
      const r = await runCommand(command, args, opts);
      runs.push(r);
      return r;
    },
    async runOk(command, args, opts) {
      const r = await harness.run(command, args, opts);
      if (r.code !== 0) throw new Error(`command failed:\n${describeResult(r)}`);
      return r;
    },
    attachLog(label, read) {
      logs.push({ label, read });
    },
    dump() {
      const parts: string[] = [`===== ${fileLabel}: captured output (test failed) =====`];
      for (const p of procs) {
        parts.push(`----- process ${p.name} (pid ${p.pid}, ${p.isRunning() ? 'running' : 'exited'}) -----`, tail(p.output()));
      }
      for (const r of runs.slice(-6)) parts.push('----- command -----', tail(describeResult(r)));
      for (const l of logs) {
        let text: string;
        try {
          text = l.read();
        } catch (err) {
          text = `(unreadable: ${(err as Error).message})`;
        }
        parts.push(`----- ${l.label} -----`, tail(text));
      }
      parts.push(`===== end of ${fileLabel} output =====`);
      console.error(parts.join('\n'));
    },
    async stopAll() {
      await Promise.all(procs.map((p) => p.stop(5_000)));
    },
  };

  beforeEach((ctx) => {
    ctx.onTestFailed(() => harness.dump());
  });

  afterAll(async () => {
    await harness.stopAll();
    if (process.env.ACME_E2E_KEEP_TMP === '1') {
      console.error(`ACME_E2E_KEEP_TMP=1: kept ${dirs.join(' ')}`);
      return;
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  return harness;
}
