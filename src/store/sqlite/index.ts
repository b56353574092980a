import type { Store } from '../types.js';
import { sqliteAccounts } from './accounts.js';
import { sqliteCertificates } from './certificates.js';
import { openDb, type SqliteStoreOptions } from './db.js';
import { sqliteEabKeys } from './eab-keys.js';
import { sqliteIssuance } from './issuance.js';
import { sqliteJobs } from './jobs.js';
import { sqliteNonces } from './nonces.js';
import { sqliteAuthorizations, sqliteChallenges, sqliteOrders } from './orders.js';
import { sqlitePreauthorizations } from './preauthorizations.js';
import { sqliteRateLimits } from './rate-limits.js';
import { sqliteSettings } from './settings.js';
import { sqlitePcaCertificates } from './pca-certificates.js';
import { opsIntents } from '../ops-queries.js';

// The SQLite Store: one module per aggregate over one database (db.ts). All SQL of the gateway is
// in this folder; every intent is one transaction that never spans an await.

export type { SqliteStoreOptions } from './db.js';

export function openSqliteStore(options: SqliteStoreOptions): Store {
  const db = openDb(options);
  // One process owns the file, so an exclusive section only has to exclude this process: a name
  // held here is held everywhere that writes to the database.
  const held = new Set<string>();
  return {
    settings: sqliteSettings(db),
    nonces: sqliteNonces(db),
    accounts: sqliteAccounts(db),
    orders: sqliteOrders(db),
    authorizations: sqliteAuthorizations(db),
    challenges: sqliteChallenges(db),
    eabKeys: sqliteEabKeys(db),
    rateLimits: sqliteRateLimits(db),
    preauthorizations: sqlitePreauthorizations(db),
    certificates: sqliteCertificates(db),
    issuance: sqliteIssuance(db),
    pcaCertificates: sqlitePcaCertificates(db),
    jobs: sqliteJobs(db),
    // The operations intents are single statements or reads: the shared async code runs over the
    // synchronous connection as it is.
    ...opsIntents({ one: async (sql, ...p) => db.one(sql, ...p), all: async (sql, ...p) => db.all(sql, ...p), run: async (sql, ...p) => db.run(sql, ...p) }),
    tryExclusive: async (name, fn) => {
      if (held.has(name)) return { ran: false };
      held.add(name);
      try {
        return { ran: true, value: await fn() };
      } finally {
        held.delete(name);
      }
    },
    ping: async () => {
      db.one('SELECT 1');
    },
    close: () => db.close(),
  };
}
