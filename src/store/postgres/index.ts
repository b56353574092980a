import type { Store } from '../types.js';
import { postgresAccounts } from './accounts.js';
import { postgresCertificates } from './certificates.js';
import { LOCK_PREFIX, PgDb, type PostgresStoreOptions } from './db.js';
import { postgresEabKeys } from './eab-keys.js';
import { postgresIssuance } from './issuance.js';
import { postgresJobs } from './jobs.js';
import { migratePostgres } from './migrate.js';
import { postgresNonces } from './nonces.js';
import { postgresAuthorizations, postgresChallenges, postgresOrders } from './orders.js';
import { postgresPreauthorizations } from './preauthorizations.js';
import { postgresRateLimits } from './rate-limits.js';
import { postgresSettings } from './settings.js';
import { opsIntents } from '../ops-queries.js';

// The PostgreSQL Store, for several gateway replicas on one database: the same intents as the
// SQLite store, module for module, over a connection pool (db.ts). Opening it applies the
// migrations under an advisory lock (migrate.ts), so replicas may start together.

export type { PostgresStoreOptions } from './db.js';

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  await migratePostgres(options);
  const db = new PgDb(options);
  // Names this store is inside right now: a second caller in this process is turned away without
  // spending a connection on an advisory lock it cannot get.
  const held = new Set<string>();
  return {
    settings: postgresSettings(db),
    nonces: postgresNonces(db),
    accounts: postgresAccounts(db),
    orders: postgresOrders(db),
    authorizations: postgresAuthorizations(db),
    challenges: postgresChallenges(db),
    eabKeys: postgresEabKeys(db),
    rateLimits: postgresRateLimits(db),
    preauthorizations: postgresPreauthorizations(db),
    certificates: postgresCertificates(db),
    issuance: postgresIssuance(db),
    jobs: postgresJobs(db),
    ...opsIntents(db),
    tryExclusive: async (name, fn) => {
      if (held.has(name)) return { ran: false };
      held.add(name);
      try {
        const done = await db.withAdvisoryLock(`${LOCK_PREFIX}${name}`, fn);
        return done ? { ran: true, value: done.value } : { ran: false };
      } finally {
        held.delete(name);
      }
    },
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
