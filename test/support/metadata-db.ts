import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Runs `read` on berthd's metadata database under `root`, opened read-only
 * (so the daemon may be running or dead), and closes it again.
 */
export function readMetadata<T>(root: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(root, 'metadata.db'), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}
