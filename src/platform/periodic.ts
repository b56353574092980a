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
  private readonly running = new Set<string>();

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
    this.running.add(task.name);
    try {
      await task.run();
    } catch (err) {
      this.logger.warn({ task: task.name, err: (err as Error).message }, 'periodic task failed; it runs again at its next interval');
    } finally {
      this.running.delete(task.name);
    }
    return true;
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
