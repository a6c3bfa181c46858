import { mkdir } from 'node:fs/promises';
import { isSysError, MNT_DETACH, mount, MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, umount2 } from '../sys/native.js';
import type { Mount } from './snapshotter.js';

/** Performs a snapshotter's mounts at `target` (a container's bundle rootfs). */
export async function mountAll(mounts: readonly Mount[], target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const m of mounts) {
    if (m.type === 'bind') {
      const flags = MS_BIND | (m.options.includes('rbind') ? MS_REC : 0);
      mount(m.source, target, null, flags, null);
      if (m.options.includes('ro')) remountReadOnlyOrUnmount(target);
    } else {
      mount(m.source, target, m.type, 0, m.options.join(','));
    }
  }
}

/** A bind that should be read-only must not stay writable when the remount fails. */
function remountReadOnlyOrUnmount(target: string): void {
  try {
    mount(null, target, null, MS_BIND | MS_REMOUNT | MS_RDONLY, null);
  } catch (err) {
    unmountAll(target);
    throw err;
  }
}

/** Unmounts `target` (lazily, so a lingering reader does not block removal); absent is fine. */
export function unmountAll(target: string): void {
  for (;;) {
    try {
      umount2(target, MNT_DETACH);
    } catch (err) {
      if (isSysError(err, 'EINVAL') || isSysError(err, 'ENOENT')) return;
      throw err;
    }
  }
}
