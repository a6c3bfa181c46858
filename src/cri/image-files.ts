import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerDirs } from '../core/snapshots/overlay.js';

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
    } catch {
      // not in this layer
    }
  }
  return undefined;
}

export interface ImageUserFiles {
  passwd: string | undefined;
  group: string | undefined;
}

/** Files bigger than this together are read every time rather than kept. */
const CACHED_USER_FILES_MAX_BYTES = 64 * 1024;

/**
 * An image's /etc/passwd and /etc/group, read once per chain id: the layers
 * a chain id names never change, and every CreateContainer and
 * RunPodSandbox resolves its user through them. The most recently used
 * `maxImages` images are kept.
 */
export class ImageUserFilesCache {
  private readonly entries = new Map<string, Promise<ImageUserFiles>>();

  constructor(private readonly maxImages = 64) {}

  /** The files of the image whose top layer is `chainId`, read through `dirs` (a snapshot on that chain) when not kept. */
  get(chainId: string, dirs: LayerDirs): Promise<ImageUserFiles> {
    const kept = this.entries.get(chainId);
    if (kept) {
      this.entries.delete(chainId);
      this.entries.set(chainId, kept);
      return kept;
    }
    const read = Promise.all([readImageFile(dirs, 'etc/passwd'), readImageFile(dirs, 'etc/group')]).then(([passwd, group]) => ({ passwd, group }));
    this.entries.set(chainId, read);
    read.then(
      (files) => {
        if ((files.passwd?.length ?? 0) + (files.group?.length ?? 0) > CACHED_USER_FILES_MAX_BYTES) this.forget(chainId, read);
      },
      () => this.forget(chainId, read),
    );
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxImages) break;
      this.entries.delete(oldest);
    }
    return read;
  }

  private forget(chainId: string, entry: Promise<ImageUserFiles>): void {
    if (this.entries.get(chainId) === entry) this.entries.delete(chainId);
  }
}
