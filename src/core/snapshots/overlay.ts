import { mkdir, readdir, rm, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { allSettledOrThrow } from '../util/concurrency.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors.js';
import type { Db } from '../metadata/db.js';
import type { CommitOptions, Mount, SnapshotInfo, SnapshotKind, Snapshotter, SnapshotUsage } from './snapshotter.js';

interface SnapshotRow {
  id: number;
  key: string;
  parent: string | null;
  kind: SnapshotKind;
  labels: string;
  created_at: number;
}

/** Where an active snapshot's layer lives on disk, for appliers that write into it directly. */
export interface LayerDirs {
  /** The writable directory (overlay upperdir, or the whole tree for a base layer). */
  upper: string;
  /** Committed parents' directories, closest first. */
  lowers: string[];
}

/**
 * Overlayfs snapshotter: each snapshot is a directory snapshots/<id>/fs; an
 * active snapshot over parents mounts as overlay (lowerdir = parents' fs,
 * upperdir = its own fs). Records live in the metadata database; directories
 * are created after their row and removed after it, and `cleanup()` removes
 * what a crash left in between.
 */
export class OverlaySnapshotter implements Snapshotter {
  private readonly statements;

  constructor(
    private readonly db: Db,
    readonly root: string,
  ) {
    this.statements = {
      get: db.prepare<[string], SnapshotRow>('SELECT * FROM snapshots WHERE key = ?'),
      insert: db.prepare<[string, string | null, SnapshotKind, string, number]>(
        'INSERT INTO snapshots (key, parent, kind, labels, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      children: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM snapshots WHERE parent = ?'),
      commit: db.prepare<[string, string | null, string, string]>(
        "UPDATE snapshots SET key = ?, parent = ?, kind = 'committed', labels = ? WHERE key = ?",
      ),
      delete: db.prepare<[string]>('DELETE FROM snapshots WHERE key = ?'),
      all: db.prepare<[], SnapshotRow>('SELECT * FROM snapshots ORDER BY id'),
      ids: db.prepare<[], { id: number }>('SELECT id FROM snapshots'),
    };
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  stat(key: string): SnapshotInfo | undefined {
    const row = this.statements.get.get(key);
    return row ? toInfo(row) : undefined;
  }

  list(): SnapshotInfo[] {
    return this.statements.all.all().map(toInfo);
  }

  async prepare(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    await this.create('active', key, parent, labels);
    return this.mounts(key);
  }

  async view(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    await this.create('view', key, parent, labels);
    return this.mounts(key);
  }

  mounts(key: string): Mount[] {
    const row = this.require(key);
    const dirs = this.layerDirs(key);
    if (row.kind === 'view' || row.kind === 'committed') {
      const all = row.kind === 'committed' ? [dirs.upper, ...dirs.lowers] : dirs.lowers;
      if (all.length === 0) return [{ type: 'bind', source: dirs.upper, options: ['ro', 'rbind'] }];
      if (all.length === 1) return [{ type: 'bind', source: all[0]!, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${all.join(':')}`] }];
    }
    if (dirs.lowers.length === 0) return [{ type: 'bind', source: dirs.upper, options: ['rw', 'rbind'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', `workdir=${this.workDir(row.id)}`, `upperdir=${dirs.upper}`, `lowerdir=${dirs.lowers.join(':')}`],
      },
    ];
  }

  /** The directories of a snapshot and of its committed ancestors. */
  layerDirs(key: string): LayerDirs {
    const row = this.require(key);
    const lowers: string[] = [];
    let parent = row.parent;
    while (parent) {
      const p = this.require(parent);
      lowers.push(this.fsDir(p.id));
      parent = p.parent;
    }
    return { upper: this.fsDir(row.id), lowers };
  }

  async commit(name: string, key: string, labels?: Record<string, string>, options: CommitOptions = {}): Promise<void> {
    const row = this.require(key);
    if (row.kind !== 'active') throw new FailedPreconditionError(`snapshot ${key} is ${row.kind}, only an active snapshot can be committed`);
    if (this.stat(name)) throw new AlreadyExistsError(`snapshot ${name} already exists`);
    let parent = row.parent;
    if (options.parent !== undefined && options.parent !== row.parent) {
      // Rebase: the directory holds one layer's changes (whiteouts as overlay
      // markers), so it can sit on any parent; only a parentless snapshot may move.
      if (row.parent) throw new FailedPreconditionError(`snapshot ${key} already has parent ${row.parent}; only a snapshot prepared without a parent can be committed onto ${options.parent}`);
      const p = this.stat(options.parent);
      if (!p) throw new NotFoundError(`parent snapshot ${options.parent} does not exist`);
      if (p.kind !== 'committed') throw new FailedPreconditionError(`parent snapshot ${options.parent} is not committed`);
      parent = options.parent;
    }
    this.statements.commit.run(name, parent, JSON.stringify(labels ?? JSON.parse(row.labels)), key);
    // The work dir is only needed while the snapshot is mounted writable.
    await rm(this.workDir(row.id), { recursive: true, force: true });
  }

  async remove(key: string): Promise<void> {
    const row = this.require(key);
    const { n } = this.statements.children.get(key)!;
    if (n > 0) throw new FailedPreconditionError(`snapshot ${key} has ${n} children; remove them first`);
    this.statements.delete.run(key);
    await rm(this.snapshotDir(row.id), { recursive: true, force: true });
  }

  /**
   * Removes several snapshots, children before their parents: every record in
   * one transaction (all or none), then the directories side by side.
   */
  async removeAll(keys: readonly string[]): Promise<void> {
    const ids = this.db.transaction(() =>
      keys.map((key) => {
        const row = this.require(key);
        const { n } = this.statements.children.get(key)!;
        if (n > 0) throw new FailedPreconditionError(`snapshot ${key} has ${n} children; remove them first`);
        this.statements.delete.run(key);
        return row.id;
      }),
    )();
    await allSettledOrThrow(ids.map((id) => rm(this.snapshotDir(id), { recursive: true, force: true })));
  }

  async usage(key: string): Promise<SnapshotUsage> {
    const row = this.require(key);
    return directoryUsage(this.fsDir(row.id));
  }

  /** Removes directories that have no record (left by a crash between the two steps). */
  async cleanup(): Promise<string[]> {
    const known = new Set(this.statements.ids.all().map((r) => String(r.id)));
    const removed: string[] = [];
    for (const name of await readdir(this.root)) {
      if (!known.has(name)) {
        await rm(join(this.root, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  private async create(kind: SnapshotKind, key: string, parent: string | undefined, labels: Record<string, string>): Promise<void> {
    if (!key) throw new InvalidArgumentError('snapshot key must not be empty');
    if (parent) {
      const p = this.stat(parent);
      if (!p) throw new NotFoundError(`parent snapshot ${parent} does not exist`);
      if (p.kind !== 'committed') throw new FailedPreconditionError(`parent snapshot ${parent} is not committed`);
    }
    let id: number;
    try {
      id = Number(this.statements.insert.run(key, parent ?? null, kind, JSON.stringify(labels), Date.now()).lastInsertRowid);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new AlreadyExistsError(`snapshot ${key} already exists`);
      throw err;
    }
    try {
      await mkdir(this.fsDir(id), { recursive: true, mode: 0o755 });
      if (kind === 'active' && parent) await mkdir(this.workDir(id), { recursive: true, mode: 0o700 });
    } catch (err) {
      this.statements.delete.run(key);
      throw err;
    }
  }

  private require(key: string): SnapshotRow {
    const row = this.statements.get.get(key);
    if (!row) throw new NotFoundError(`snapshot ${key} does not exist`);
    return row;
  }

  private snapshotDir(id: number): string {
    return join(this.root, String(id));
  }

  private fsDir(id: number): string {
    return join(this.root, String(id), 'fs');
  }

  private workDir(id: number): string {
    return join(this.root, String(id), 'work');
  }
}

function toInfo(row: SnapshotRow): SnapshotInfo {
  return {
    key: row.key,
    ...(row.parent ? { parent: row.parent } : {}),
    kind: row.kind,
    labels: JSON.parse(row.labels) as Record<string, string>,
    createdAt: new Date(row.created_at),
  };
}

/** Bytes (allocated blocks) and inodes under a directory, hard links counted once. */
export async function directoryUsage(dir: string): Promise<SnapshotUsage> {
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    let st;
    try {
      st = await lstat(current, { bigint: false });
    } catch {
      continue;
    }
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) continue;
    seen.add(id);
    inodes++;
    bytes += st.blocks * 512;
    if (st.isDirectory()) {
      for (const name of await readdir(current)) stack.push(join(current, name));
    }
  }
  return { bytes, inodes };
}
