import { dirname, join, resolve } from 'node:path';
import type { GatewayConfig } from './schema.js';

// Files the configuration implies without naming them: they live beside the SQLite database.

/** The EAB key-encryption key (acme.eabKekFile, default eab-kek.key beside the database). */
export const eabKekPath = (config: GatewayConfig): string => config.acme.eabKekFile ?? join(dataDirOf(config), 'eab-kek.key');

/** The directory of the database file: the gateway's own state lives there. */
export const dataDirOf = (config: GatewayConfig): string => dirname(resolve(config.storage.sqlite));
