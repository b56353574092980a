import { existsSync, readFileSync } from 'node:fs';
import { randomToken, type Random } from './random.js';
import { writePrivateFile } from './private-file.js';

// The admin listener's bearer token: read from its file, or created there (0600) at the first start.

export interface AdminToken {
  token: string;
  /** Where it came from, for the start-up log (never the token itself). */
  source: 'environment' | 'created' | 'file';
  path: string | null;
}

export function loadAdminToken(path: string, random: Random, fromEnvironment?: string): AdminToken {
  if (fromEnvironment) return { token: fromEnvironment, source: 'environment', path: null };
  if (!existsSync(path)) {
    try {
      writePrivateFile(path, `${randomToken(random, 32)}\n`, { exclusive: true });
      return { token: read(path), source: 'created', path };
    } catch (err) {
      // Another process (a replica starting on the same volume) created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return { token: read(path), source: 'file', path };
}

function read(path: string): string {
  const token = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  if (token.length < 16) throw new Error(`the admin token in ${path} is shorter than 16 characters`);
  return token;
}
