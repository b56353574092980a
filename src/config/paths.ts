import { dirname, join, resolve } from 'node:path';
import { DEFAULT_SQLITE_PATH, type GatewayConfig } from './schema.js';

// Files the configuration implies without naming them: they live beside the SQLite database, or
// with PostgreSQL in the directory the SQLite file would have had (./data).

/** The EAB key-encryption key (acme.eabKekFile, default eab-kek.key beside the database). */
export const eabKekPath = (config: GatewayConfig): string => config.acme.eabKekFile ?? join(dataDirOf(config), 'eab-kek.key');

/** The directory of the database file (./data with PostgreSQL): the gateway's own files live there. */
export const dataDirOf = (config: GatewayConfig): string => dirname(resolve(config.storage.sqlite ?? DEFAULT_SQLITE_PATH));

/** The admin listener's bearer token (admin.tokenFile, default admin.token beside the database). */
export const adminTokenPath = (config: GatewayConfig): string => config.admin.tokenFile ?? join(dataDirOf(config), 'admin.token');
