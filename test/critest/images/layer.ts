/**
 * Deterministic image layers: a list of entries becomes an uncompressed tar (whose
 * sha256 is the diff_id) and its gzip (whose sha256 is the layer digest). Every
 * mtime is fixed and entries are sorted, so the same inputs always give the same digests.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packTar, sha256, type TarHeader, type TarMember } from '../../support/tar-pack.js';

export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Every entry's mtime: the epoch, so rebuilding never changes a digest. */
export const LAYER_MTIME = new Date(0);

interface Ownership {
  /** Permission bits incl. setuid/setgid/sticky; defaults depend on the entry type. */
  mode?: number;
  uid?: number;
  gid?: number;
}

export type LayerEntry =
  | ({ type: 'file'; path: string; content: Buffer | string } & Ownership)
  /** A regular file whose bytes are read from `source` on the host (its mode too, unless given). */
  | ({ type: 'hostfile'; path: string; source: string } & Ownership)
  | ({ type: 'dir'; path: string } & Ownership)
  | ({ type: 'symlink'; path: string; target: string } & Ownership)
  /** A hard link to `target`, another path of the same layer. */
  | { type: 'hardlink'; path: string; target: string };

export interface BuiltLayer {
  mediaType: string;
  /** sha256 of the gzipped tar: the digest registries and manifests use. */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: string;
  compressed: Buffer;
}

export class LayerError extends Error {
  override name = 'LayerError';
}

/** Build one gzipped layer from `entries`. Missing parent directories are added (0755, root). */
export async function buildLayer(entries: readonly LayerEntry[]): Promise<BuiltLayer> {
  const tar = await buildTar(entries);
  const compressed = gzipSync(tar, { level: 6 });
  return {
    mediaType: LAYER_MEDIA_TYPE,
    digest: sha256(compressed),
    size: compressed.length,
    diffId: sha256(tar),
    compressed,
  };
}

/** The uncompressed tar of `entries`, deterministic: regular entries sorted by path, then hard links sorted by path. */
export async function buildTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const normalised = withParents(entries.map((e) => ({ ...e, path: normalisePath(e.path) })));
  checkHardLinks(normalised);
  const byPath = (a: LayerEntry, b: LayerEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  // Hard links go last so that each one's target is always already in the archive.
  const ordered = [
    ...normalised.filter((e) => e.type !== 'hardlink').sort(byPath),
    ...normalised.filter((e) => e.type === 'hardlink').sort(byPath),
  ];

  // A hard link's header carries its inode's mode and owner, as tar writes it: some
  // unpackers (containerd's) apply the link header's mode to the shared file.
  const fileHeaders = new Map<string, TarHeader>();
  const members: TarMember[] = [];
  for (const entry of ordered) {
    const member = await toTarEntry(entry, fileHeaders);
    if (member.header.type === 'file') fileHeaders.set(entry.path, member.header);
    members.push(member);
  }
  return packTar(members);
}

async function toTarEntry(entry: LayerEntry, fileHeaders: ReadonlyMap<string, TarHeader>): Promise<TarMember> {
  const base = { name: entry.path, mtime: LAYER_MTIME, uname: '', gname: '' };
  switch (entry.type) {
    case 'file': {
      const body = typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content;
      return { header: { ...base, ...owner(entry, 0o644), type: 'file', size: body.length }, content: body };
    }
    case 'hostfile': {
      let info: Stats;
      try {
        info = await stat(entry.source);
      } catch (err) {
        throw new LayerError(`layer entry ${entry.path}: cannot read host file ${entry.source}: ${(err as Error).message}`);
      }
      if (!info.isFile()) throw new LayerError(`layer entry ${entry.path}: host path ${entry.source} is not a regular file`);
      const body = await readFile(entry.source);
      return { header: { ...base, ...owner(entry, info.mode & 0o7777), type: 'file', size: body.length }, content: body };
    }
    case 'dir':
      return { header: { ...base, ...owner(entry, 0o755), type: 'directory' } };
    case 'symlink':
      return { header: { ...base, ...owner(entry, 0o777), type: 'symlink', linkname: entry.target } };
    case 'hardlink': {
      const linkname = normalisePath(entry.target);
      const target = fileHeaders.get(linkname);
      return { header: { ...base, mode: target?.mode ?? 0o644, uid: target?.uid ?? 0, gid: target?.gid ?? 0, type: 'link', linkname } };
    }
  }
}

function owner(entry: Ownership, defaultMode: number): { mode: number; uid: number; gid: number } {
  return { mode: entry.mode ?? defaultMode, uid: entry.uid ?? 0, gid: entry.gid ?? 0 };
}

/** `/bin/ls`, `./bin/ls` and `bin/ls/` all become `bin/ls`; the root itself and any `..` are refused. */
export function normalisePath(path: string): string {
  const clean = posix.normalize(`/${path}`).replace(/^\/+/, '').replace(/\/+$/, '');
  if (clean === '' || path.split('/').includes('..')) {
    throw new LayerError(`invalid layer path ${JSON.stringify(path)}: must name something below the root`);
  }
  return clean;
}

function withParents(entries: LayerEntry[]): LayerEntry[] {
  const seen = new Map<string, LayerEntry>();
  for (const entry of entries) {
    if (seen.has(entry.path)) throw new LayerError(`layer path ${entry.path} is listed twice`);
    seen.set(entry.path, entry);
  }
  const parents: LayerEntry[] = [];
  for (const entry of entries) {
    for (let dir = posix.dirname(entry.path); dir !== '.'; dir = posix.dirname(dir)) {
      const existing = seen.get(dir);
      if (existing) {
        if (existing.type !== 'dir') throw new LayerError(`layer path ${entry.path} is below ${dir}, which is not a directory`);
        break;
      }
      const parent: LayerEntry = { type: 'dir', path: dir };
      seen.set(dir, parent);
      parents.push(parent);
    }
  }
  return [...entries, ...parents];
}

function checkHardLinks(entries: readonly LayerEntry[]): void {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const entry of entries) {
    if (entry.type !== 'hardlink') continue;
    const target = byPath.get(normalisePath(entry.target));
    if (!target || (target.type !== 'file' && target.type !== 'hostfile')) {
      throw new LayerError(`hard link ${entry.path} points to ${entry.target}, which is not a regular file of this layer`);
    }
  }
}
