import type { Stats } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerDirs } from '../core/snapshots/overlay.js';
import { lgetxattr } from '../core/sys/native.js';
import { isErrno } from '../core/util/errno.js';
import { OVERLAY_OPAQUE_XATTR } from '../core/diff/apply.js';

/** Symlinks followed while resolving one path, as the kernel allows (ELOOP beyond). */
const MAX_SYMLINKS = 40;

type LayerEntry = { layer: string; stat: Stats } | 'whiteout' | undefined;

async function lstatIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].some((code) => isErrno(err, code))) return undefined;
    throw err;
  }
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Whether overlayfs hides lower layers' contents of `dir` (berth's unpack marks opaque directories so). */
function isOpaque(dir: string): boolean {
  try {
    return lgetxattr(dir, OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
  } catch {
    return false; // a filesystem without trusted xattrs has no opaque directories
  }
}

/**
 * The topmost layer's entry at `components` as overlayfs would show it: a
 * layer counts only where every ancestor is a real directory in it (never a
 * symlink, so nothing here is followed), a whiteout hides lower layers, and
 * so does an opaque ancestor directory.
 */
async function topmostEntry(layers: readonly string[], components: readonly string[]): Promise<LayerEntry> {
  for (const layer of layers) {
    let hidesLower = false;
    let present = true;
    for (let i = 1; i < components.length && present; i++) {
      const ancestor = join(layer, ...components.slice(0, i));
      const st = await lstatIfPresent(ancestor);
      if (st === undefined) present = false;
      else if (isWhiteout(st)) return 'whiteout';
      else if (!st.isDirectory()) return undefined; // a file or symlink here: nothing below it, here or lower
      else if (isOpaque(ancestor)) hidesLower = true;
    }
    if (present) {
      const st = await lstatIfPresent(join(layer, ...components));
      if (st !== undefined) return isWhiteout(st) ? 'whiteout' : { layer, stat: st };
    }
    if (hidesLower) return undefined;
  }
  return undefined;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Where a file of an image is on the host, found through its layer
 * directories (topmost first) without mounting them. Symlinks are followed
 * inside the image, as in a chroot: an absolute target starts again from the
 * image's root and `..` stops there, so no name in a layer leads to the
 * host's files. Undefined when the image has no such regular file.
 */
export async function findImageFile(dirs: LayerDirs, path: string): Promise<string | undefined> {
  const layers = [dirs.upper, ...dirs.lowers];
  let pending = splitPath(path);
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, name];
    const entry = await topmostEntry(layers, candidate);
    if (entry === undefined || entry === 'whiteout') return undefined;
    if (entry.stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = await readlink(join(entry.layer, ...candidate));
      if (target.startsWith('/')) resolved = [];
      pending = [...splitPath(target), ...pending];
      continue;
    }
    if (pending.length === 0) return entry.stat.isFile() ? join(entry.layer, ...candidate) : undefined;
    if (!entry.stat.isDirectory()) return undefined;
    resolved = candidate;
  }
  return undefined;
}

/** Reads a small file (/etc/passwd, /etc/group) of an image through its layer directories (findImageFile). */
export async function readImageFile(dirs: LayerDirs, path: string): Promise<string | undefined> {
  const found = await findImageFile(dirs, path);
  return found === undefined ? undefined : readFile(found, 'utf8');
}

export interface ImageUserFiles {
  passwd: string | undefined;
  group: string | undefined;
}

/** Files longer than this together (in characters) are read every time rather than kept. */
const CACHED_USER_FILES_MAX_CHARS = 64 * 1024;

/**
 * An image's /etc/passwd and /etc/group, read once per chain id: the layers
 * a chain id names never change, and every CreateContainer and
 * RunPodSandbox resolves its user through them. The most recently used
 * `maxImages` images are kept.
 */
export class ImageUserFilesCache {
  private readonly entries = new Map<string, Promise<ImageUserFiles>>();

  constructor(private readonly maxImages = 64) {}

  /**
   * The files of the image whose top layer is `chainId` (undefined for an
   * image without layers), read through `dirs` (a new snapshot on that
   * chain) when not kept. A failed read is not kept.
   */
  get(chainId: string | undefined, dirs: LayerDirs): Promise<ImageUserFiles> {
    const key = chainId ?? '';
    const kept = this.entries.get(key);
    if (kept) {
      this.entries.delete(key);
      this.entries.set(key, kept);
      return kept;
    }
    const read = Promise.all([readImageFile(dirs, 'etc/passwd'), readImageFile(dirs, 'etc/group')]).then(([passwd, group]) => ({ passwd, group }));
    this.entries.set(key, read);
    read.then(
      (files) => {
        if ((files.passwd?.length ?? 0) + (files.group?.length ?? 0) > CACHED_USER_FILES_MAX_CHARS) this.forget(key, read);
      },
      () => this.forget(key, read),
    );
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxImages) break;
      this.entries.delete(oldest);
    }
    return read;
  }

  private forget(key: string, entry: Promise<ImageUserFiles>): void {
    if (this.entries.get(key) === entry) this.entries.delete(key);
  }
}
