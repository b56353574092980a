import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepOrphanClusters } from '../support/postgres-cluster.js';

// The PostgreSQL test clusters a killed suite leaves behind are stopped and removed by the next run;
// a cluster whose run is still going (its owner process alive) is left alone.

describe('orphaned PostgreSQL test clusters', () => {
  it('stops and removes a cluster whose owner is gone, and keeps one whose owner lives', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    // A parent of its own: the real temp directory may hold the clusters of the run this test is part of.
    const parent = mkdtempSync(join(tmpdir(), 'sweep-test-'));
    const orphan = mkdtempSync(join(parent, 'acme-pg-'));
    const live = mkdtempSync(join(parent, 'acme-pg-'));
    try {
      mkdirSync(join(orphan, 'data'));
      writeFileSync(join(orphan, 'data', 'postmaster.pid'), '1\n');
      writeFileSync(join(orphan, 'owner.pid'), String(deadPid));
      writeFileSync(join(live, 'owner.pid'), String(process.pid));
      const stopped: string[][] = [];
      await sweepOrphanClusters(async (cmd, args) => stopped.push([cmd, ...args]), parent);
      expect(existsSync(orphan)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(stopped).toContainEqual(['pg_ctl', '-D', join(orphan, 'data'), '-m', 'immediate', '-w', '-t', '30', 'stop']);
      expect(stopped.some((c) => c.includes(join(live, 'data')))).toBe(false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
