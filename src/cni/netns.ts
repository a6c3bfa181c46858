/**
 * Network namespaces pinned by a bind mount on a file, so they outlive every
 * process in them (what `ip netns add` and containerd's pkg/netns do).
 */
import { randomUUID } from 'node:crypto';
import { promises as fs, statfsSync } from 'node:fs';
import path from 'node:path';
import { readMountInfo } from '../core/sys/mountinfo.js';
import { MNT_DETACH, pinNewNetns, umount2 } from '../core/sys/native.js';

export const DEFAULT_NETNS_DIR = '/var/run/netns';

/** statfs(2) f_type of nsfs, the filesystem namespace files live on. */
const NSFS_MAGIC = 0x6e736673;

export interface Netns {
  name: string;
  path: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** Creates a fresh network namespace pinned at `<dir>/<name>`. */
export async function createNetns(name?: string, dir: string = DEFAULT_NETNS_DIR): Promise<Netns> {
  const nsName = name ?? `cni-${randomUUID()}`;
  if (!NAME_PATTERN.test(nsName)) {
    throw new Error(`invalid network namespace name "${nsName}": use letters, digits, '_', '.', '-'`);
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const nsPath = path.join(dir, nsName);
  // "wx" refuses to reuse a name: an existing file may pin somebody else's namespace.
  const handle = await fs.open(nsPath, 'wx', 0o444).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new Error(`network namespace ${nsPath} already exists`);
    throw err;
  });
  await handle.close();
  try {
    await pinNewNetns(nsPath);
  } catch (err) {
    await fs.rm(nsPath, { force: true });
    throw new Error(`creating network namespace ${nsPath} failed: ${(err as Error).message}`, { cause: err });
  }
  return { name: nsName, path: nsPath };
}

/** Unpins and deletes a namespace file. A missing or already unmounted one is fine. */
export async function removeNetns(nsPath: string): Promise<void> {
  // Mounts may be stacked if something pinned the path twice; peel all of them.
  for (let i = 0; i < 8 && (await isMountPoint(nsPath)); i++) {
    try {
      umount2(nsPath, MNT_DETACH);
    } catch (err) {
      if (await isMountPoint(nsPath)) {
        throw new Error(`unmounting network namespace ${nsPath} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  }
  await fs.rm(nsPath, { force: true });
}

/** True when the path is a pinned network namespace (an nsfs file), false otherwise. */
export function netnsExists(nsPath: string): boolean {
  if (nsPath === '') return false;
  try {
    return statfsSync(nsPath).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

async function isMountPoint(target: string): Promise<boolean> {
  // mountinfo names real paths (/run/netns), callers may pass a symlinked one (/var/run/netns).
  const absolute = path.resolve(target);
  const dir = await fs.realpath(path.dirname(absolute)).catch(() => path.dirname(absolute));
  const resolved = path.join(dir, path.basename(absolute));
  return (await readMountInfo()).some((m) => m.mountPoint === resolved);
}
