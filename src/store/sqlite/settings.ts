import type { Store } from '../types.js';
import type { Db } from './db.js';

// Gateway-wide settings (keys, watermarks): a small key/value table.

export function sqliteSettings(db: Db): Store['settings'] {
  return {
    get: async (key) => (db.one('SELECT value FROM settings WHERE key = ?', key)?.value as string | undefined) ?? null,
    set: async (key, value) => {
      db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    },
    compareAndSet: async (key, expected, value) =>
      (expected === null
        ? db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', key, value)
        : db.run('UPDATE settings SET value = ? WHERE key = ? AND value = ?', value, key, expected)) === 1,
    getOrCreate: async (key, make) =>
      db.tx(() => {
        const existing = db.one('SELECT value FROM settings WHERE key = ?', key);
        if (existing) return existing.value as string;
        const value = make();
        db.run('INSERT INTO settings (key, value) VALUES (?, ?)', key, value);
        return value;
      }),
  };
}
