/** A mount the caller performs (or hands to runc); snapshotters never mount. */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  key: string;
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  createdAt: Date;
}

export interface CommitOptions {
  /**
   * Commit onto this committed parent although the snapshot was prepared
   * without one (containerd's rebase capability): layers of one image can be
   * unpacked side by side and chained in order as each finishes.
   */
  parent?: string;
}

export interface SnapshotUsage {
  bytes: number;
  inodes: number;
}

/**
 * containerd's snapshots.Snapshotter: committed snapshots are read-only
 * layers keyed by chain id, active ones are writable layers over a parent.
 */
export interface Snapshotter {
  stat(key: string): SnapshotInfo | undefined;
  /** A writable snapshot over `parent` (a committed key); returns its mounts. */
  prepare(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  /** A read-only view of `parent`. */
  view(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  mounts(key: string): Mount[];
  /** Turns the active snapshot `key` into the committed snapshot `name`. */
  commit(name: string, key: string, labels?: Record<string, string>, options?: CommitOptions): Promise<void>;
  /** Removes a snapshot that has no children. */
  remove(key: string): Promise<void>;
  usage(key: string): Promise<SnapshotUsage>;
  list(): SnapshotInfo[];
}
