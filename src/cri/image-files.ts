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
