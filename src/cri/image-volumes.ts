/**
 * Volumes an image declares (its config's `Volumes`, a Dockerfile's VOLUME),
 * made the way containerd's CRI plugin makes them: each path the CRI config
 * does not mount itself gets a directory of its own under the container's
 * directory, filled with what the image holds at that path, and bind-mounted
 * read-write there (even over a read-only rootfs). The directories go with
 * the container. The container directory is 0700: what a volume holds (an
 * image's set-id file or device node, or one a container made) is never
 * reachable by the host's other users.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FailedPreconditionError } from '../core/errors.js';
import { resolveDirInRoot, UnsafeEntryError } from '../core/diff/safe-path.js';
import { cleanPath, type ImageVolumeBind } from '../core/runtime/spec/index.js';
import { copyDirectoryContents } from '../core/util/copy-tree.js';
import type { Mount__Output } from '../gen/cri/runtime/v1/Mount.js';

/** What the copy leaves: the SELinux label belongs to the volume directory (containerd leaves it too). */
const VOLUME_COPY = { skipXattrs: new Set(['security.selinux']) };

/**
 * One bind per image volume the CRI mounts do not cover, each with a fresh
 * directory under `volumesDir`. Paths are cleaned (a relative one is taken from
 * /); a volume of / itself cannot be bound and is left out.
 */
export function imageVolumeBinds(volumes: Readonly<Record<string, unknown>> | undefined, criMounts: readonly Mount__Output[], volumesDir: string): ImageVolumeBind[] {
  const mounted = new Set(criMounts.map((m) => cleanPath(m.container_path)));
  const declared = Object.keys(volumes ?? {});
  const invalid = declared.find((path) => path.includes('\0'));
  if (invalid !== undefined) throw new FailedPreconditionError(`the image declares a volume path with a NUL byte: ${JSON.stringify(invalid.slice(0, 200))}`);
  const paths = new Set(declared.map((path) => cleanPath(`/${path}`)));
  return [...paths]
    .filter((path) => path !== '/' && !mounted.has(path))
    .sort()
    .map((containerPath) => ({ containerPath, hostPath: join(volumesDir, randomBytes(16).toString('hex')) }));
}

/**
 * Makes each volume's directory and copies into it what the mounted `rootfs`
 * holds at its path, resolved inside the rootfs as the container will see it
 * (symlinks followed without leaving it). A path the image lacks gives an
 * empty directory owned by root; a path that is not a directory, or that
 * leads back to the image's root (a copy of the whole image), fails.
 */
export async function populateImageVolumes(rootfs: string, binds: readonly ImageVolumeBind[]): Promise<void> {
  for (const bind of binds) {
    await mkdir(dirname(bind.hostPath), { recursive: true, mode: 0o700 });
    await mkdir(bind.hostPath, { mode: 0o755 });
    let resolved: string[] | undefined;
    try {
      resolved = await resolveDirInRoot(rootfs, bind.containerPath.split('/'), bind.containerPath, false);
    } catch (err) {
      if (!(err instanceof UnsafeEntryError)) throw err;
      throw new FailedPreconditionError(`the image declares a volume at ${bind.containerPath}, which is not a directory in the image (a file, or a symlink loop)`);
    }
    if (resolved?.length === 0) throw new FailedPreconditionError(`the image declares a volume at ${bind.containerPath}, which leads to the image's root`);
    if (resolved) await copyDirectoryContents(join(rootfs, ...resolved), bind.hostPath, VOLUME_COPY);
  }
}
