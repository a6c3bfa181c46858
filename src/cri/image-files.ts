import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerDirs } from '../core/snapshots/overlay.js';
import { isErrno } from '../core/util/errno.js';

/**
 * Reads a small file (/etc/passwd, /etc/group) of an image through its layer
 * directories, topmost first, without mounting. A whiteout (char device)
 * hides lower copies.
 */
export async function readImageFile(dirs: LayerDirs, path: string): Promise<string | undefined> {
  for (const dir of [dirs.upper, ...dirs.lowers]) {
    const full = join(dir, path);
    try {
      const st = await lstat(full);
      if (st.isCharacterDevice()) return undefined;
      if (!st.isFile()) continue;
      return await readFile(full, 'utf8');
    } catch (err) {
      // Not in this layer; any other failure is not an answer (and must not be kept as one).
      if (!['ENOENT', 'ENOTDIR', 'ELOOP'].some((code) => isErrno(err, code))) throw err;
    }
  }
  return undefined;
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
