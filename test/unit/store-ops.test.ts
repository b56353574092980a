import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { describeOpsContract } from './store-ops-contract.js';

// The SQLite store against the operations contract, and the append-only audit table.

describeOpsContract('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-ops-'));
  return { store: openSqliteStore({ path: join(dir, 'store.sqlite') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('audit_events on SQLite', () => {
  it('refuses UPDATE and DELETE, whoever connects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-ops-'));
    const path = join(dir, 'store.sqlite');
    const store = openSqliteStore({ path });
    await store.audit.append({
      id: 'e1', at: new Date(1), actor: 'system', actorName: null, clientIp: null, eabKeyId: null, action: 'x', directory: null, accountId: null, orderId: null, certificateId: null, serialHex: null, detail: {},
    });
    await store.close();
    const raw = new Database(path);
    expect(() => raw.prepare("UPDATE audit_events SET action = 'y'").run()).toThrow(/append-only/);
    expect(() => raw.prepare('DELETE FROM audit_events').run()).toThrow(/append-only/);
    expect(raw.prepare('SELECT action FROM audit_events').get()).toEqual({ action: 'x' });
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
