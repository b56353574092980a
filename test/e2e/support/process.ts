import { spawn, type ChildProcess } from 'node:child_process';

// Child processes for the e2e suite: every byte a process writes is kept so that a failing test can
// show what certbot / lego / the gateway said, instead of just "exit code 1".

const MAX_KEPT_CHARS = 200_000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Interleaved stdout + stderr captured so far. */
  output(): string;
  isRunning(): boolean;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function spawnManaged(name: string, command: string, args: readonly string[], opts: SpawnOptions = {}): ManagedProcess {
  const child: ChildProcess = spawn(command, [...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let captured = '';
  const keep = (chunk: Buffer): void => {
    captured += chunk.toString('utf8');
    if (captured.length > MAX_KEPT_CHARS) captured = captured.slice(-MAX_KEPT_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let running = true;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('error', (err) => {
      captured += `\n[spawn error] ${err.message}\n`;
      running = false;
      resolve({ code: null, signal: null });
    });
    child.on('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });

  return {
    name,
    pid: child.pid,
    output: () => captured,
    isRunning: () => running,
    exited,
    async stop(graceMs = 10_000): Promise<ExitInfo> {
      if (!running) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running) child.kill('SIGKILL');
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface CommandResult {
  commandLine: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export interface RunOptions extends SpawnOptions {
  /** Kill the command (SIGKILL) after this long; default 180 s. */
  timeoutMs?: number;
}

/** Runs a command to completion; never throws for a non-zero exit (see `describeResult`). */
export function runCommand(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const started = Date.now();
  const commandLine = [command, ...args].map(shellQuote).join(' ');
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 180_000);
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
      clearTimeout(timer);
      resolve({ commandLine, code, signal, stdout, stderr: stderr + extra, durationMs: Date.now() - started, timedOut });
    };
    child.on('error', (err) => finish(null, null, `\n[spawn error] ${err.message}`));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

export function describeResult(r: CommandResult): string {
  const status = r.timedOut ? 'TIMED OUT' : r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
  return [
    `$ ${r.commandLine}`,
    `-> ${status} after ${r.durationMs} ms`,
    '--- stdout ---',
    r.stdout.trimEnd(),
    '--- stderr ---',
    r.stderr.trimEnd(),
  ].join('\n');
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-./:=@,+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
