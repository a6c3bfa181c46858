/**
 * Host-side precondition of propagating bind mounts, as containerd checks it:
 * a Bidirectional (rshared) volume needs its host path on a shared mount, a
 * HostToContainer (rslave) one on a shared or slave mount; otherwise mounts made
 * on either side could never cross and the pod would silently misbehave.
 */
import { realpath } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { Mount__Output } from '../../gen/cri/runtime/v1/Mount.js';
import { readMountInfo, type MountInfo } from '../sys/mountinfo.js';

/** The mount that holds `path` (already free of symlinks): the last mounted one with the longest matching mount point. */
export function mountContaining(path: string, mounts: readonly MountInfo[]): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const inside = m.mountPoint === '/' || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
    if (inside && (best === undefined || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export function isShared(m: MountInfo): boolean {
  return m.optional.some((f) => f.startsWith('shared:'));
}

export function isSlave(m: MountInfo): boolean {
  return m.optional.some((f) => f.startsWith('master:'));
}

/**
 * Refuses a propagating mount whose host side cannot propagate. `resolved` maps
 * each host path to its symlink-free form (the caller's realpath).
 */
export function checkPropagation(
  mounts: readonly Pick<Mount__Output, 'host_path' | 'propagation'>[],
  resolved: ReadonlyMap<string, string>,
  mountInfo: readonly MountInfo[],
): void {
  for (const m of mounts) {
    if (m.propagation !== 'PROPAGATION_BIDIRECTIONAL' && m.propagation !== 'PROPAGATION_HOST_TO_CONTAINER') continue;
    const path = resolved.get(m.host_path) ?? m.host_path;
    const holder = mountContaining(path, mountInfo);
    if (!holder) throw new FailedPreconditionError(`host path ${path} is on no mount this runtime can see`);
    if (m.propagation === 'PROPAGATION_BIDIRECTIONAL' && !isShared(holder)) {
      throw new FailedPreconditionError(
        `mount of ${m.host_path} asks for Bidirectional propagation, but ${path} is on mount ${holder.mountPoint}, which is not shared (make it shared: mount --make-rshared ${holder.mountPoint})`,
      );
    }
    if (m.propagation === 'PROPAGATION_HOST_TO_CONTAINER' && !isShared(holder) && !isSlave(holder)) {
      throw new FailedPreconditionError(
        `mount of ${m.host_path} asks for HostToContainer propagation, but ${path} is on mount ${holder.mountPoint}, which is neither shared nor slave (mount --make-rshared ${holder.mountPoint})`,
      );
    }
  }
}

/** checkPropagation against this process's mount table. */
export async function checkHostPropagation(mounts: readonly Mount__Output[]): Promise<void> {
  const propagating = mounts.filter((m) => m.propagation === 'PROPAGATION_BIDIRECTIONAL' || m.propagation === 'PROPAGATION_HOST_TO_CONTAINER');
  if (propagating.length === 0) return;
  const resolved = new Map<string, string>();
  for (const m of propagating) {
    try {
      resolved.set(m.host_path, await realpath(m.host_path));
    } catch (err) {
      throw new InvalidArgumentError(`mount host_path ${m.host_path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  checkPropagation(propagating, resolved, await readMountInfo());
}
