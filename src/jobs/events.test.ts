import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JobEvents } from './events.js';

// Fake timers: a waiter that wakes on notify must do so with the clock standing still, and one that
// times out must wake exactly when its time is up, not before (no elapsed-time measurements).

/** Lets every settled promise run its callbacks. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('JobEvents', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('wakes every waiter of the subject at once, on notify and not on a timeout, and no other', async () => {
    const events = new JobEvents();
    const woke: string[] = [];
    void events.wait('issue', 'o1', 5_000).then(() => woke.push('a'));
    void events.wait('issue', 'o1', 5_000).then(() => woke.push('b'));
    void events.wait('issue', 'o2', 50).then(() => woke.push('other'));
    void events.wait('validate', 'o1', 50).then(() => woke.push('other kind'));
    events.notify('issue', 'o1');
    await flush();
    // No time has passed: only notify can have woken them.
    expect(woke.sort()).toEqual(['a', 'b']);
    // Their timers were cleared: nothing else is pending for them.
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(49);
    await flush();
    expect(woke).toHaveLength(2);
    vi.advanceTimersByTime(1);
    await flush();
    expect(woke.slice(2).sort()).toEqual(['other', 'other kind']);
  });

  it('times out when nothing is notified: not before timeoutMs, and at timeoutMs', async () => {
    const events = new JobEvents();
    let woke = false;
    void events.wait('validate', 'c1', 30).then(() => (woke = true));
    vi.advanceTimersByTime(29);
    await flush();
    expect(woke).toBe(false);
    vi.advanceTimersByTime(1);
    await flush();
    expect(woke).toBe(true);
  });

  it('stop (shutdown) wakes every waiter at once, and later waits end at once', async () => {
    const events = new JobEvents();
    const woke: string[] = [];
    void events.wait('issue', 'o1', 60_000).then(() => woke.push('issue'));
    void events.wait('validate', 'c1', 60_000).then(() => woke.push('validate'));
    expect(events.waitsStopped).toBe(false);
    events.stop();
    await flush();
    expect(woke.sort()).toEqual(['issue', 'validate']);
    expect(events.waitsStopped).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    let later = false;
    void events.wait('issue', 'o2', 60_000).then(() => (later = true));
    await flush();
    expect(later).toBe(true);
  });
});
