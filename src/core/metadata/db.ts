import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens berth's one metadata database (WAL, foreign keys, synchronous=FULL so
 * a committed transaction survives power loss) and brings its schema up to
 * date. Each migration runs in its own transaction together with the bump of
 * user_version, so a crash leaves the schema at a whole version.
 */
export function openMetadataDb(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new Error(`metadata database schema version ${current} is newer than this berthd (knows ${MIGRATIONS.length}); refusing to downgrade`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    const step = db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    });
    step();
  }
}
