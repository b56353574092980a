import type { Store } from '../types.js';
import type { PgDb } from './db.js';

// Gateway-wide settings (keys, watermarks): a small key/value table shared by every replica.

export function postgresSettings(db: PgDb): Store['settings'] {
  const get = async (key: string): Promise<string | null> => ((await db.one('SELECT value FROM settings WHERE key = ?', key))?.value as string | undefined) ?? null;
  return {
    get,
    set: async (key, value) => {
      await db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    },
    // The primary key settles a race to insert; the WHERE on the old value settles a race to replace.
    compareAndSet: async (key, expected, value) =>
      (expected === null
        ? await db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', key, value)
        : await db.run('UPDATE settings SET value = ? WHERE key = ? AND value = ?', value, key, expected)) === 1,
    // Replicas starting together all find the key absent and make a value; the primary key lets
    // exactly one insert win, and every replica then returns that one (the nonce HMAC key must be
    // the same everywhere, or a nonce from one replica would be refused by another).
    getOrCreate: async (key, make) => {
      const existing = await get(key);
      if (existing !== null) return existing;
      const inserted = await db.one('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING value', key, make());
      return (inserted?.value as string | undefined) ?? (await get(key))!;
    },
  };
}
