import { describe, expect, it } from 'vitest';
import { JobEvents } from './events.js';

describe('JobEvents', () => {
  it('wakes every waiter of the subject at once and no other', async () => {
    const events = new JobEvents();
    const woke: string[] = [];
    const a = events.wait('issue', 'o1', 5_000).then(() => woke.push('a'));
    const b = events.wait('issue', 'o1', 5_000).then(() => woke.push('b'));
    const other = events.wait('issue', 'o2', 50).then(() => woke.push('other'));
    events.notify('issue', 'o1');
    await Promise.all([a, b]);
    expect(woke.sort()).toEqual(['a', 'b']);
    await other;
    expect(woke).toContain('other');
  });

  it('times out when nothing is notified', async () => {
    const events = new JobEvents();
    const started = Date.now();
    await events.wait('validate', 'c1', 30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});
