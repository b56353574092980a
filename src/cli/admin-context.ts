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

/**
 * Ids are random base64url and may start with "-" (`orders show -5x…`), which parseArgs would take
 * for an option: an argument that is neither a known option nor an option's value is moved behind
 * "--", where it is a positional whatever it starts with.
 */
export function idsAsPositionals(args: string[], options: Record<string, { type: 'string' | 'boolean'; short?: string }>): string[] {
  const flags = new Map<string, 'string' | 'boolean'>();
  for (const [name, o] of Object.entries(options)) {
    flags.set(`--${name}`, o.type);
    if (o.short) flags.set(`-${o.short}`, o.type);
  }
  const named: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    const type = flags.get(a.split('=')[0]!);
    if (type) {
      named.push(a);
      if (type === 'string' && !a.includes('=') && i + 1 < args.length) named.push(args[++i]!);
    } else if (a.startsWith('--')) {
      named.push(a); // an unknown option: parseArgs names it in its error
    } else {
      positionals.push(a);
    }
  }
  return [...named, '--', ...positionals];
}
