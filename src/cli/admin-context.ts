import { userInfo } from 'node:os';
import { loadConfig } from '../config/load.js';
import { buildAdmin, type AdminParts } from '../deps.js';
import type { Operator } from '../services/operator-actions.js';
import type { Out } from './format.js';

// What every admin command shares: the configured database, who is acting (for the audit trail),
// the output streams, and one exit-code convention:
//   0 done · 1 refused or not found (nothing changed) · 2 usage or configuration · 3 could not run.

export interface Io {
  out: Out;
  err: Out;
}

export const defaultIo = (): Io => ({ out: process.stdout, err: process.stderr });

export class UsageError extends Error {}

/** The operator the audit trail names for a command run from a shell. */
export function cliOperator(): Operator {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (a container with an arbitrary uid): keep "unknown"
  }
  return { kind: 'cli', name };
}

export async function withAdmin(configPath: string | undefined, fn: (admin: AdminParts) => Promise<number>): Promise<number> {
  const admin = await buildAdmin(loadConfig(configPath));
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** "2026-01-31T12:34:56.789Z" → "2026-01-31 12:34" for tables. */
export const short = (iso: string | null | undefined): string => (iso ? iso.slice(0, 16).replace('T', ' ') : '-');
