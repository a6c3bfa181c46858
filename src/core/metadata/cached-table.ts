import type { Db } from './db.js';

type Row = Record<string, string | number>;

/** How one record type maps onto the columns of its table. */
export interface TableMapping<R extends { id: string }> {
  table: string;
  columns: readonly string[];
  toRow(record: R): Row;
  fromRow(row: Row): R;
}

/**
 * A table whose rows are also kept in memory: kubelet lists pods and
 * containers every second, so reads never touch SQLite; every change is
 * written through in a transaction before the cache sees it. Records are
 * never changed in place (update publishes a new object), so callers may key
 * caches by the record object (the CRI layer caches encoded responses so).
 */
export class CachedTable<R extends { id: string }> {
  private readonly cache = new Map<string, R>();
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly deleteStmt;

  constructor(private readonly db: Db, private readonly mapping: TableMapping<R>) {
    const cols = mapping.columns;
    this.insertStmt = db.prepare(`INSERT INTO ${mapping.table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`);
    this.updateStmt = db.prepare(
      `UPDATE ${mapping.table} SET ${cols.filter((c) => c !== 'id').map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`,
    );
    this.deleteStmt = db.prepare<[string]>(`DELETE FROM ${mapping.table} WHERE id = ?`);
    for (const row of db.prepare(`SELECT * FROM ${mapping.table}`).all() as Row[]) {
      const record = mapping.fromRow(row);
      this.cache.set(record.id, record);
    }
  }

  get(id: string): R | undefined {
    return this.cache.get(id);
  }

  all(): R[] {
    return [...this.cache.values()];
  }

  /** Inserts a new record; a UNIQUE violation surfaces as the SQLite error (callers map it). */
  insert(record: R): void {
    this.insertStmt.run(this.mapping.toRow(record));
    this.cache.set(record.id, record);
  }

  /** Applies `change` to a copy of the record, persists it, then publishes it. */
  update(id: string, change: (record: R) => R): R {
    const current = this.cache.get(id);
    if (!current) throw new Error(`no record ${id} in ${this.mapping.table}`);
    const next = change({ ...current });
    this.updateStmt.run(this.mapping.toRow(next));
    this.cache.set(id, next);
    return next;
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
    this.cache.delete(id);
  }

  /** Runs several writes in one transaction (all or none reach the database). */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /** The unique id with this prefix, as crictl sends them. */
  resolvePrefix(prefix: string): R[] {
    const exact = this.cache.get(prefix);
    if (exact) return [exact];
    return this.all().filter((r) => r.id.startsWith(prefix));
  }
}
