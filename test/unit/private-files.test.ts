import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EabKeySealer } from '../../src/platform/key-sealer.js';
import { ensurePrivateFile, writePrivateFile } from '../../src/platform/private-file.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startTestGateway } from '../harness.js';

// Secrets on disk (issue 9 item 8): the SQLite database with its -wal and -shm, and the EAB
// key-encryption key, are 0600 whatever the umask: a umask can only narrow a mode given to open(),
// and a file that already exists keeps its own, so the files are chmod-ed after they are opened.

const mode = (path: string) => statSync(path).mode & 0o777;

let dir: string;
let savedUmask: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'private-files-'));
  savedUmask = process.umask();
});
afterEach(() => {
  process.umask(savedUmask);
  rmSync(dir, { recursive: true, force: true });
});

describe.each([0o000, 0o022, 0o077, 0o277])('under umask %s', (umask) => {
  it('the SQLite file, its -wal and -shm are 0600', async () => {
    process.umask(umask);
    const path = join(dir, 'db', 'gateway.sqlite');
    const store = openSqliteStore({ path });
    try {
      await store.ping();
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(mode(f), f).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('the EAB key-encryption key is 0600 when created', () => {
    process.umask(umask);
    const path = join(dir, 'eab-kek.key');
    EabKeySealer.fromFile(path);
    expect(mode(path)).toBe(0o600);
  });

  it('writePrivateFile and ensurePrivateFile give 0600', () => {
    process.umask(umask);
    writePrivateFile(join(dir, 'a'), 'x');
    ensurePrivateFile(join(dir, 'b'));
    expect([mode(join(dir, 'a')), mode(join(dir, 'b'))]).toEqual([0o600, 0o600]);
  });
});

describe('files that already exist', () => {
  it('a world-readable database, -wal and -shm from an earlier run are made 0600 at open', async () => {
    const path = join(dir, 'gateway.sqlite');
    const first = openSqliteStore({ path });
    await first.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      writeFileSync(f, '', { flag: 'a' });
      chmodSync(f, 0o644);
    }
    const store = openSqliteStore({ path });
    try {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(mode(f), f).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('a world-readable key-encryption key is made 0600, and its key kept', () => {
    const path = join(dir, 'eab-kek.key');
    const sealed = EabKeySealer.fromFile(path).seal(Buffer.from('hmac'), 'kid-1');
    chmodSync(path, 0o644);
    expect(EabKeySealer.fromFile(path).open(sealed, 'kid-1').toString()).toBe('hmac');
    expect(mode(path)).toBe(0o600);
  });

  it('a key file another process made first is read, not replaced', () => {
    const path = join(dir, 'eab-kek.key');
    writePrivateFile(path, `${Buffer.alloc(32, 7).toString('base64')}\n`, { exclusive: true });
    expect(() => writePrivateFile(path, 'other', { exclusive: true })).toThrow(/EEXIST/);
    expect(EabKeySealer.fromFile(path).open(new EabKeySealer(Buffer.alloc(32, 7)).seal(Buffer.from('k'), 'kid'), 'kid').toString()).toBe('k');
  });
});

describe('a whole gateway', () => {
  it('leaves its database and key-encryption key 0600 under umask 0', async () => {
    process.umask(0);
    const t = await startTestGateway();
    try {
      for (const f of [t.sqlitePath, `${t.sqlitePath}-wal`, `${t.sqlitePath}-shm`, join(t.dir, 'eab-kek.key')]) expect(mode(f), f).toBe(0o600);
    } finally {
      await t.dispose();
    }
  });
});
