import { afterEach, describe, expect, it, vi } from 'vitest';
import { missingPrerequisite, prerequisitesRequired } from '../support/prerequisites.js';

// A missing prerequisite may skip a test on a developer's machine, never in CI.

describe('missingPrerequisite', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  const skipped = (): { skip(note?: string): never; notes: Array<string | undefined> } => {
    const notes: Array<string | undefined> = [];
    return {
      notes,
      skip(note?: string): never {
        notes.push(note);
        throw new Error('skipped');
      },
    };
  };

  it.each([
    ['ACME_E2E_REQUIRE_BINARIES=1', { ACME_E2E_REQUIRE_BINARIES: '1', CI: '' }],
    ['CI=true', { ACME_E2E_REQUIRE_BINARIES: '', CI: 'true' }],
    ['CI=1', { ACME_E2E_REQUIRE_BINARIES: '', CI: '1' }],
  ])('fails the test under %s instead of skipping it', (_what, env) => {
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    expect(prerequisitesRequired()).toBe(true);
    const ctx = skipped();
    expect(() => missingPrerequisite('the IPv6 loopback', ctx)).toThrow(/FAILED: the IPv6 loopback is not available/);
    expect(ctx.notes).toEqual([]);
  });

  it.each([
    ['nothing set', { ACME_E2E_REQUIRE_BINARIES: '', CI: '' }],
    ['CI=false', { ACME_E2E_REQUIRE_BINARIES: '', CI: 'false' }],
  ])('skips, loudly, with %s', (_what, env) => {
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(prerequisitesRequired()).toBe(false);
    const ctx = skipped();
    expect(() => missingPrerequisite('the IPv6 loopback', ctx)).toThrow('skipped');
    expect(ctx.notes).toEqual(['the IPv6 loopback is not available']);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('SKIPPED: the IPv6 loopback'));
  });
});
