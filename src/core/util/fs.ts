import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { isErrno } from './errno.js';

/** lstat(2), or undefined when nothing is at `path`; other failures are thrown. */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
