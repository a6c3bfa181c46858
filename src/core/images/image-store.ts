import type { Db } from '../metadata/db.js';

/** One name of an image, as containerd keeps them: a tag or digest reference pointing at content. */
export interface ImageRecord {
  /** docker.io/library/busybox:latest or docker.io/library/busybox@sha256:… */
  name: string;
  targetDigest: string;
  targetMediaType: string;
  targetSize: number;
  /** The linux/amd64 manifest (equal to targetDigest when the name points at a manifest). */
  manifestDigest: string;
  /** The image id CRI reports. */
  configDigest: string;
  /** Bytes of manifest, config and compressed layers. */
  size: number;
  pinned: boolean;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

interface ImageRow {
  name: string;
  target_digest: string;
  target_media_type: string;
  target_size: number;
  manifest_digest: string;
  config_digest: string;
  size: number;
  pinned: number;
  labels: string;
  created_at: number;
  updated_at: number;
}

function toRecord(row: ImageRow): ImageRecord {
  return {
    name: row.name,
    targetDigest: row.target_digest,
    targetMediaType: row.target_media_type,
    targetSize: row.target_size,
    manifestDigest: row.manifest_digest,
    configDigest: row.config_digest,
    size: row.size,
    pinned: row.pinned !== 0,
    labels: JSON.parse(row.labels) as Record<string, string>,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Image names in the metadata database (prepared statements, one row per name). */
export class ImageStore {
  private readonly statements;

  constructor(private readonly db: Db) {
    this.statements = {
      get: db.prepare<[string], ImageRow>('SELECT * FROM images WHERE name = ?'),
      byConfig: db.prepare<[string], ImageRow>('SELECT * FROM images WHERE config_digest = ? ORDER BY name'),
      byConfigPrefix: db.prepare<[string, string], { config_digest: string }>(
        'SELECT DISTINCT config_digest FROM images WHERE substr(config_digest, 1, length(?)) = ?',
      ),
      all: db.prepare<[], ImageRow>('SELECT * FROM images ORDER BY config_digest, name'),
      upsert: db.prepare(
        `INSERT INTO images (name, target_digest, target_media_type, target_size, manifest_digest, config_digest, size, pinned, labels, created_at, updated_at)
         VALUES (@name, @target_digest, @target_media_type, @target_size, @manifest_digest, @config_digest, @size, @pinned, @labels, @created_at, @updated_at)
         ON CONFLICT(name) DO UPDATE SET target_digest = excluded.target_digest, target_media_type = excluded.target_media_type,
           target_size = excluded.target_size, manifest_digest = excluded.manifest_digest, config_digest = excluded.config_digest,
           size = excluded.size, pinned = excluded.pinned, labels = excluded.labels, updated_at = excluded.updated_at`,
      ),
      delete: db.prepare<[string]>('DELETE FROM images WHERE name = ?'),
      deleteByConfig: db.prepare<[string]>('DELETE FROM images WHERE config_digest = ?'),
    };
  }

  get(name: string): ImageRecord | undefined {
    const row = this.statements.get.get(name);
    return row ? toRecord(row) : undefined;
  }

  byConfigDigest(configDigest: string): ImageRecord[] {
    return this.statements.byConfig.all(configDigest).map(toRecord);
  }

  /** Image ids (config digests) starting with `prefix` ("sha256:ab…"). */
  configDigestsWithPrefix(prefix: string): string[] {
    return this.statements.byConfigPrefix.all(prefix, prefix).map((r) => r.config_digest);
  }

  list(): ImageRecord[] {
    return this.statements.all.all().map(toRecord);
  }

  /** Writes several names in one transaction: either all are visible or none. */
  putAll(records: Omit<ImageRecord, 'createdAt' | 'updatedAt'>[]): void {
    const now = Date.now();
    const tx = this.db.transaction(() => {
      for (const r of records) {
        this.statements.upsert.run({
          name: r.name,
          target_digest: r.targetDigest,
          target_media_type: r.targetMediaType,
          target_size: r.targetSize,
          manifest_digest: r.manifestDigest,
          config_digest: r.configDigest,
          size: r.size,
          pinned: r.pinned ? 1 : 0,
          labels: JSON.stringify(r.labels),
          created_at: now,
          updated_at: now,
        });
      }
    });
    tx();
  }

  delete(name: string): void {
    this.statements.delete.run(name);
  }

  deleteByConfigDigest(configDigest: string): number {
    return this.statements.deleteByConfig.run(configDigest).changes;
  }
}
