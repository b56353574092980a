import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

// A vitest reporter for CI (.ci/run): appends "start <project> <file>" and "end <project> <file>
// <state>" lines, with the time, to the file named by VITEST_PROGRESS_FILE, written synchronously
// as each test file begins and ends. When a run is cut short by .ci/run's time limit, the files
// that started and never ended are the ones to look at, and .ci/run prints them; the default
// reporter only ever names the files that finished.
export default class ProgressReporter implements Reporter {
  private readonly file = process.env.VITEST_PROGRESS_FILE;

  onTestModuleStart(module: TestModule): void {
    this.write(`start ${module.project.name} ${module.relativeModuleId}`);
  }

  onTestModuleEnd(module: TestModule): void {
    this.write(`end ${module.project.name} ${module.relativeModuleId} ${module.state()}`);
  }

  private write(line: string): void {
    if (this.file) appendFileSync(this.file, `${new Date().toISOString()} ${line}\n`);
  }
}
