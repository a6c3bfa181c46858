import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { parseReference } from '../core/distribution/reference.js';

/** The columns of berth's `images` table that berthctl needs. */
export interface ImageName {
  name: string;
  targetDigest: string;
  manifestDigest: string;
  configDigest: string;
  size: number;
}

interface Row {
  name: string;
  target_digest: string;
  manifest_digest: string;
  config_digest: string;
  size: number;
}

const COLUMNS = 'name, target_digest, manifest_digest, config_digest, size';

/**
 * Finds an image in the metadata database, opened read-only (the daemon owns
 * it and its migrations): by full or familiar name (`busybox:1.36`), then by
 * image id or unique id prefix.
 */
export function findImageName(dbPath: string, ref: string): ImageName {
  if (!existsSync(dbPath)) throw new Error(`no metadata database at ${dbPath}: is --root the daemon's root?`);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const byName = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM images WHERE name = ?`);
    let row: Row | undefined;
    try {
      row = byName.get(parseReference(ref).toString());
    } catch {
      row = undefined; // not a reference (an id prefix, say): try ids below
    }
    if (row) return toImageName(row);

    const hex = ref.replace(/^sha256:/, '');
    if (/^[a-f0-9]{1,64}$/.test(hex)) {
      const rows = db
        .prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM images WHERE substr(config_digest, 1, length(?)) = ? ORDER BY name`)
        .all(`sha256:${hex}`, `sha256:${hex}`);
      const ids = new Set(rows.map((r) => r.config_digest));
      if (ids.size > 1) throw new Error(`image id prefix ${ref} is ambiguous: it matches ${[...ids].join(', ')}`);
      if (rows[0]) return toImageName(rows[0]);
    }
    throw new Error(`image ${ref} not found (see "berthctl images ls")`);
  } finally {
    db.close();
  }
}

function toImageName(row: Row): ImageName {
  return {
    name: row.name,
    targetDigest: row.target_digest,
    manifestDigest: row.manifest_digest,
    configDigest: row.config_digest,
    size: row.size,
  };
}
