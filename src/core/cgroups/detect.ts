import { existsSync, readFileSync } from 'node:fs';

export type CgroupLayout = 'v1' | 'hybrid' | 'v2';
export type CgroupDriver = 'cgroupfs' | 'systemd';

const CGROUP2_SUPER_MAGIC_FSTYPE = 'cgroup2';

/** Reads /proc/self/mounts to tell a pure v1, hybrid or unified cgroup host. */
export function detectCgroupLayout(mountsText = readFileSync('/proc/self/mounts', 'utf8')): CgroupLayout {
  let v1 = false;
  let v2Root = false;
  let v2Elsewhere = false;
  for (const line of mountsText.split('\n')) {
    const [, mountPoint, fsType] = line.split(' ');
    if (fsType === 'cgroup') v1 = true;
    if (fsType === CGROUP2_SUPER_MAGIC_FSTYPE) {
      if (mountPoint === '/sys/fs/cgroup') v2Root = true;
      else v2Elsewhere = true;
    }
  }
  if (v2Root && !v1) return 'v2';
  if (v1 && (v2Elsewhere || v2Root)) return 'hybrid';
  return 'v1';
}

/**
 * The cgroup driver berth uses when configured "auto": systemd when systemd
 * is PID 1 (as kubelet's own default detection assumes), cgroupfs otherwise.
 */
export function detectCgroupDriver(systemdRunDir = '/run/systemd/system'): CgroupDriver {
  return existsSync(systemdRunDir) ? 'systemd' : 'cgroupfs';
}
