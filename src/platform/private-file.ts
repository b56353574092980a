import { chmodSync, closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// Files only the gateway's own user may read: the database (accounts, sealed EAB keys, order
// history), the EAB key-encryption key, the serving certificate's private key. A mode given to
// open() is masked by the umask, so it can come out narrower (0400 under umask 0277, and the gateway
// could not write its own database) and, for a file that already exists, it is not applied at all;
// so every file is chmod-ed to exactly 0600 right after it is opened or written, whatever the umask.

export const PRIVATE_MODE = 0o600;

/** Creates `path` empty if it does not exist (never truncating it), and makes it 0600 either way. */
export function ensurePrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  closeSync(openSync(path, 'a', PRIVATE_MODE));
  chmodSync(path, PRIVATE_MODE);
}

/** Makes each of `paths` that exists 0600 (SQLite's -wal and -shm files, left from an earlier run). */
export function restrictIfPresent(...paths: string[]): void {
  for (const path of paths) if (existsSync(path)) chmodSync(path, PRIVATE_MODE);
}

/**
 * Writes `data` to `path` as a 0600 file. With `exclusive`, fails with EEXIST when the file is
 * already there (two processes creating the same key file at once: the second one reads the first's).
 */
export function writePrivateFile(path: string, data: string, opts: { exclusive?: boolean } = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data, { mode: PRIVATE_MODE, flag: opts.exclusive ? 'wx' : 'w' });
  chmodSync(path, PRIVATE_MODE);
}
