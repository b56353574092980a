import { chmodSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PRIVATE_MODE } from '../../platform/private-file.js';

// `db backup FILE`: an online backup of the live SQLite database with SQLite's backup API (through
// better-sqlite3), page by page, while the gateway keeps writing: the copy is consistent as of the
// moment it finished, WAL content included. The copy is 0600 like the database itself.

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export async function backupSqlite(source: string, destination: string, onProgress: (p: BackupProgress) => void, pagesPerStep = 64): Promise<BackupProgress> {
  if (!existsSync(source)) throw new Error(`no SQLite database at ${source}`);
  const db = new Database(source, { fileMustExist: true, readonly: true });
  try {
    let last: BackupProgress = { totalPages: 0, remainingPages: 0 };
    const done = await db.backup(destination, {
      progress: (p) => {
        last = p;
        onProgress(p);
        return pagesPerStep;
      },
    });
    chmodSync(destination, PRIVATE_MODE);
    last = { totalPages: done.totalPages, remainingPages: done.remainingPages };
    onProgress(last);
    return last;
  } finally {
    db.close();
  }
}
