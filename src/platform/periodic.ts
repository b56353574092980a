import type { Logger } from './logger.js';

// Background loops as one component with start()/stop() (ARCHITECTURE.md "Sizes and homes"): each
// task runs every `everyMs`, never overlapping itself; a failure is logged and the loop goes on.

export interface PeriodicTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export class PeriodicTasks {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly tasks: PeriodicTask[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timers.length) return;
    for (const task of this.tasks) {
      if (task.everyMs <= 0) continue;
      const timer = setInterval(() => void this.runOnce(task), task.everyMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Runs a task now (tests, admin commands); resolves false when it is already running. */
  async runOnce(task: PeriodicTask): Promise<boolean> {
    if (this.running.has(task.name)) return false;
    const run = (async () => {
      try {
        await task.run();
      } catch (err) {
        this.logger.warn({ task: task.name, err: (err as Error).message }, 'periodic task failed; it runs again at its next interval');
      } finally {
        this.running.delete(task.name);
      }
    })();
    this.running.set(task.name, run);
    await run;
    return true;
  }

  /**
   * No further runs; waits up to waitMs for the runs in progress, so that the database they use is
   * not closed under them (a run cut short is safe: the PCA audit resumes from its watermark).
   */
  async stop(waitMs = 0): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    if (waitMs <= 0 || this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.running.values()]), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }
}
