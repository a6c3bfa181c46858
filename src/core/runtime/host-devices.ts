/**
 * Device nodes of this host, as the spec builder wants them: one device a CRI
 * config names, or every device under /dev for a privileged container (the
 * walk containerd's oci.HostDevices does).
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostDevice, LinuxDevice } from './spec/index.js';

/** Directories under /dev that hold no host devices a container should get (containerd skips the same). */
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Linux's dev_t encoding (glibc gnu_dev_major/gnu_dev_minor). */
export function splitDeviceNumber(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n);
  const minor = (rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n);
  return { major: Number(major), minor: Number(minor) };
}

/**
 * The device node at `path` (symlinks followed, as for a CRI device's host_path),
 * or undefined when nothing is there or it is not a character/block device.
 */
export async function hostDeviceAt(path: string, follow = true): Promise<HostDevice | undefined> {
  const st = await (follow ? stat(path, { bigint: true }) : lstat(path, { bigint: true })).catch(() => undefined);
  if (!st || !(st.isCharacterDevice() || st.isBlockDevice())) return undefined;
  return {
    hostPath: path,
    type: st.isBlockDevice() ? 'b' : 'c',
    ...splitDeviceNumber(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** Every device node below `root` (symlinks and the console left out), each at its host path. */
export async function allHostDevices(root = '/dev'): Promise<LinuxDevice[]> {
  const out: LinuxDevice[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(path);
        continue;
      }
      if (entry.name === 'console' || !(entry.isCharacterDevice() || entry.isBlockDevice())) continue;
      const device = await hostDeviceAt(path, false);
      if (!device) continue; // gone meanwhile
      const { hostPath, ...rest } = device;
      out.push({ path: hostPath, ...rest });
    }
  };
  await walk(root);
  return out;
}
