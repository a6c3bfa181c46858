import { randomUUID } from 'node:crypto';
import type { Db } from '../metadata/db.js';

export type LeasedKind = 'content' | 'snapshot' | 'ingest';

/**
 * Leases protect what an operation in progress (a pull) has written but not
 * yet referenced from an image, so garbage collection leaves it alone. A
 * lease belongs to the berthd process that took it: leases of a previous
 * process (crashed mid-pull) are dropped at start, and their leftovers become
 * collectable.
 */
export class LeaseManager {
  private readonly statements;

  constructor(private readonly db: Db) {
    this.statements = {
      create: db.prepare<[string, number, number]>('INSERT INTO leases (id, created_at, owner_pid) VALUES (?, ?, ?)'),
      add: db.prepare<[string, LeasedKind, string]>('INSERT OR IGNORE INTO lease_resources (lease_id, kind, resource) VALUES (?, ?, ?)'),
      delete: db.prepare<[string]>('DELETE FROM leases WHERE id = ?'),
      deleteStale: db.prepare<[number]>('DELETE FROM leases WHERE owner_pid != ?'),
      leased: db.prepare<[LeasedKind], { resource: string }>('SELECT DISTINCT resource FROM lease_resources WHERE kind = ?'),
    };
  }

  create(): Lease {
    const id = randomUUID();
    this.statements.create.run(id, Date.now(), process.pid);
    const addAll = this.db.transaction((kind: LeasedKind, resources: readonly string[]) => {
      for (const resource of resources) this.statements.add.run(id, kind, resource);
    });
    return {
      id,
      add: (kind, resources) => {
        addAll(kind, typeof resources === 'string' ? [resources] : resources);
      },
      release: () => {
        this.statements.delete.run(id);
      },
    };
  }

  /** Drops the leases of earlier berthd processes; returns how many. */
  dropStale(): number {
    return this.statements.deleteStale.run(process.pid).changes;
  }

  leased(kind: LeasedKind): Set<string> {
    return new Set(this.statements.leased.all(kind).map((r) => r.resource));
  }
}

export interface Lease {
  readonly id: string;
  /** Protects one resource, or several in one transaction (one disk sync). */
  add(kind: LeasedKind, resources: string | readonly string[]): void;
  release(): void;
}
