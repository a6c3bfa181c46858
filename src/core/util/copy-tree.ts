/**
 * Copies files the way a copy-up does: every entry keeps its type, mode,
 * owner, times and extended attributes; symlinks are copied, never followed;
 * hard links inside the tree stay links to one copy.
 */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { lgetxattr, llistxattr, lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../sys/native.js';
import { isErrno } from './errno.js';

/** Attributes a copy may leave behind: the SELinux label belongs to where the copy lands (containerd leaves it too). */
export interface CopyOptions {
  skipXattrs?: ReadonlySet<string>;
}

/** Copies a regular file to a new path (which must not exist), keeping mode, owner, times and xattrs. */
export async function copyFileWithMetadata(source: string, destination: string, st: Stats, options: CopyOptions = {}): Promise<void> {
  await copyFile(source, destination, constants.COPYFILE_EXCL);
  await copyMetadata(source, destination, st, options);
}

/**
 * Copies what the directory `source` holds into the directory `destination`
 * (which exists), and `source`'s own mode, owner and times onto it. Sockets
 * are skipped: they mean nothing without the process that bound them.
 */
export async function copyDirectoryContents(source: string, destination: string, options: CopyOptions = {}): Promise<void> {
  const st = await lstat(source);
  if (!st.isDirectory()) throw new Error(`${source} is not a directory`);
  await copyChildren(source, destination, new Map(), options);
  await copyMetadata(source, destination, st, options);
}

async function copyChildren(source: string, destination: string, linked: Map<string, string>, options: CopyOptions): Promise<void> {
  for (const name of await readdir(source)) {
    const from = join(source, name);
    const to = join(destination, name);
    const st = await lstat(from);
    if (st.isDirectory()) {
      await mkdir(to, { mode: 0o700 });
      await copyChildren(from, to, linked, options);
      await copyMetadata(from, to, st, options);
    } else if (st.isFile()) {
      // A second name of an inode already copied becomes a link to that copy.
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? linked.get(inode) : undefined;
      if (first !== undefined) {
        await link(first, to);
        continue;
      }
      await copyFileWithMetadata(from, to, st, options);
      if (st.nlink > 1) linked.set(inode, to);
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(from), to);
      await lchown(to, st.uid, st.gid);
      copyXattrs(from, to, options);
      await lutimes(to, st.atime, st.mtime);
    } else if (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice()) {
      const kind = st.isFIFO() ? S_IFIFO : st.isCharacterDevice() ? S_IFCHR : S_IFBLK;
      mknod(to, kind | (st.mode & 0o7777), major(st.rdev), minor(st.rdev));
      await copyMetadata(from, to, st, options);
    }
  }
}

/** Owner first: chown clears the set-id bits that chmod then restores. */
async function copyMetadata(source: string, destination: string, st: Stats, options: CopyOptions): Promise<void> {
  await lchown(destination, st.uid, st.gid);
  copyXattrs(source, destination, options);
  await chmod(destination, st.mode & 0o7777);
  await lutimes(destination, st.atime, st.mtime);
}

function copyXattrs(source: string, destination: string, options: CopyOptions): void {
  let names: string[];
  try {
    names = llistxattr(source);
  } catch (err) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return;
    throw err;
  }
  for (const name of names) {
    if (options.skipXattrs?.has(name)) continue;
    const value = lgetxattr(source, name);
    if (value !== null) lsetxattr(destination, name, value);
  }
}

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
function major(dev: number): number {
  return Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
}

function minor(dev: number): number {
  return Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
}
