import type { Stats } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerDirs } from '../core/snapshots/overlay.js';
import { lgetxattr } from '../core/sys/native.js';
import { isErrno } from '../core/util/errno.js';
import { lstatOrUndefined } from '../core/util/fs.js';
import { OVERLAY_OPAQUE_XATTR } from '../core/diff/apply.js';
import { InvalidArgumentError } from '../core/errors.js';

/** Symlinks followed while resolving one path, as the kernel allows (ELOOP beyond). */
const MAX_SYMLINKS = 40;
/** Path components walked while resolving one path, symlink targets included: bounds the work a hostile image can cause. */
const MAX_COMPONENTS = 4096;
/** A user database bigger than this is refused rather than read. */
const MAX_USER_FILE_BYTES = 1 << 20;

/** A directory of the merged image and the layers that contribute to it, topmost first (each a real directory there). */
interface MergedDir {
  components: string[];
  layers: string[];
}

type Found = { kind: 'dir'; dir: MergedDir } | { kind: 'other'; path: string; stat: Stats } | undefined;

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Whether overlayfs hides lower layers' contents of `dir` (berth's unpack marks opaque directories so). */
function isOpaque(dir: string): boolean {
  try {
    return lgetxattr(dir, OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
  } catch (err) {
    // A filesystem without trusted xattrs has no opaque directories; any other failure is no answer.
    if (['ENOTSUP', 'EOPNOTSUPP'].some((code) => isErrno(err, code))) return false;
    throw err;
  }
}

/**
 * `name` in the merged directory `parent`, as overlayfs shows it: the
 * topmost layer's entry wins, a whiteout hides the lower ones, and a
 * directory merges the same directory of lower layers until one of them
 * has something else there or is opaque. Only layers where `parent` is a
 * real directory are looked at, so no symlink is ever followed here.
 */
async function lookUp(parent: MergedDir, name: string): Promise<Found> {
  const components = [...parent.components, name];
  const layers: string[] = [];
  for (const layer of parent.layers) {
    // Every directory above `name` is a real one in this layer: only ENOENT can mean absent.
    const path = join(layer, ...components);
    const st = await lstatOrUndefined(path);
    if (st === undefined) continue;
    if (isWhiteout(st) || !st.isDirectory()) {
      if (layers.length > 0) break; // below a merged directory: hidden
      return isWhiteout(st) ? undefined : { kind: 'other', path, stat: st };
    }
    layers.push(layer);
    if (isOpaque(path)) break;
  }
  return layers.length > 0 ? { kind: 'dir', dir: { components, layers } } : undefined;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Where a file of an image is on the host, found through its layer
 * directories (topmost first) without mounting them. Symlinks are followed
 * inside the image, as in a chroot: an absolute target starts again from the
 * image's root and `..` stops there, so no name in a layer leads to the
 * host's files. Undefined when the image has no such regular file (or the
 * path loops).
 */
export async function findImageFile(dirs: LayerDirs, path: string): Promise<{ path: string; size: number } | undefined> {
  const root: MergedDir = { components: [], layers: [dirs.upper, ...dirs.lowers] };
  // The directories walked into, root first: `..` goes back to the one before.
  let stack: MergedDir[] = [root];
  let pending = splitPath(path);
  let links = 0;
  let walked = 0;
  while (pending.length > 0) {
    if (++walked > MAX_COMPONENTS) return undefined;
    const name = pending.shift()!;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const found = await lookUp(stack[stack.length - 1]!, name);
    if (found === undefined) return undefined;
    if (found.kind === 'dir') {
      if (pending.length === 0) return undefined;
      stack.push(found.dir);
      continue;
    }
    if (found.stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = await readlink(found.path);
      if (target.startsWith('/')) stack = [root];
      pending = [...splitPath(target), ...pending];
      continue;
    }
    return pending.length === 0 && found.stat.isFile() ? { path: found.path, size: found.stat.size } : undefined;
  }
  return undefined;
}

/** Reads a small file (/etc/passwd, /etc/group) of an image through its layer directories (findImageFile). */
export async function readImageFile(dirs: LayerDirs, path: string): Promise<string | undefined> {
  const found = await findImageFile(dirs, path);
  if (found === undefined) return undefined;
  if (found.size > MAX_USER_FILE_BYTES) {
    throw new InvalidArgumentError(`the image's /${path} is ${found.size} bytes; over ${MAX_USER_FILE_BYTES} bytes it is not read`);
  }
  return readFile(found.path, 'utf8');
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
