/**
 * Image volume mounts (KEP-4639, kubelet's ImageVolume): a CRI Mount that
 * names an image, which kubelet has pulled, instead of a host path. Each is a
 * read-only view snapshot of the image, mounted under the container's
 * directory and bound read-only into the container (its `image_sub_path`
 * inside the image when given). The view keeps the image's layers from
 * garbage collection while the container exists; both go with the container.
 */
import { mkdir, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveDirInRoot, UnsafeEntryError } from '../core/diff/safe-path.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { chainIds } from '../core/images/chain-id.js';
import { mountAll, unmountAll } from '../core/snapshots/mount.js';
import { isErrno } from '../core/util/errno.js';
import { lstatOrUndefined } from '../core/util/fs.js';
import type { Mount__Output } from '../gen/cri/runtime/v1/Mount.js';
import type { CriContext } from './context.js';
import type { RuntimeServices } from './runtime-services.js';

/** Label on an image mount's view snapshot: the id of the container it serves. */
const IMAGE_MOUNT_OF = 'berth.io/image-mount-of';

/** Symlinks to files followed in an image_sub_path, as the kernel's limit for a path. */
const MAX_FILE_SYMLINK_HOPS = 40;

export function isImageMount(mount: Mount__Output): boolean {
  return Boolean(mount.image?.image);
}

function imageMountKey(containerId: string, index: number): string {
  return `${containerId}-image-mount-${index}`;
}

function imageMountsDir(rt: RuntimeServices, containerId: string): string {
  return join(rt.containerDir(containerId), 'image-mounts');
}

/**
 * Mounts each image mount of `mounts` and returns the mounts with those
 * replaced by read-only private binds of what they show. The caller undoes a
 * failure with releaseImageMounts.
 */
export async function mountImages(ctx: CriContext, containerId: string, mounts: readonly Mount__Output[]): Promise<Mount__Output[]> {
  const rt = ctx.runtime;
  const out: Mount__Output[] = [];
  for (const [index, mount] of mounts.entries()) {
    if (!isImageMount(mount)) {
      out.push(mount);
      continue;
    }
    const reference = mount.image!.image;
    const image = ctx.images.find(reference);
    if (!image) throw new NotFoundError(`image "${reference}" of the mount at ${mount.container_path} not found; pull it first`);
    const chain = chainIds((await ctx.images.config(image.id)).rootfs.diff_ids);
    const target = join(imageMountsDir(rt, containerId), String(index));
    const view = await rt.snapshots.view(imageMountKey(containerId, index), chain[chain.length - 1], { [IMAGE_MOUNT_OF]: containerId });
    await mkdir(target, { recursive: true, mode: 0o700 });
    await mountAll(view, target);
    const source = await subPathIn(target, mount.image_sub_path, mount.container_path);
    out.push({ ...mount, host_path: source, readonly: true, propagation: 'PROPAGATION_PRIVATE', image: null, image_sub_path: '' });
  }
  return out;
}

/**
 * The host path of `subPath` inside the mounted image at `root`, resolved as
 * in the image (symlinks followed without leaving it): a directory, or a
 * regular file as the last component. A missing path fails, as cri-api asks.
 */
async function subPathIn(root: string, subPath: string, containerPath: string): Promise<string> {
  if (subPath === '') return root;
  const refuse = (why: string) => new InvalidArgumentError(`image_sub_path "${subPath.slice(0, 200)}" of the mount at ${containerPath} ${why}`);
  if (subPath.includes('\0')) throw refuse('contains a NUL byte');
  let components = subPath.split('/');
  for (let hops = 0; hops <= MAX_FILE_SYMLINK_HOPS; hops++) {
    let asDirectory: string[] | undefined;
    try {
      asDirectory = await resolveDirInRoot(root, components, subPath, false);
    } catch (err) {
      if (!(err instanceof UnsafeEntryError)) throw err;
      // Not a directory all the way: the last component may be a file, or a symlink to go on from.
      const last = components[components.length - 1]!;
      const parent = ['', '.', '..'].includes(last) ? undefined : await resolveDirInRoot(root, components.slice(0, -1), subPath, false).catch(() => undefined);
      const entry = parent && join(root, ...parent, last);
      const st = entry ? await lstatOrUndefined(entry) : undefined;
      if (st?.isFile()) return entry!;
      if (!st?.isSymbolicLink()) throw refuse('is neither a directory nor a file in the image');
      const target = await readlink(entry!);
      components = target.startsWith('/') ? target.split('/') : [...parent!, ...target.split('/')];
      continue;
    }
    if (asDirectory === undefined) throw refuse('does not exist in the image');
    return join(root, ...asDirectory);
  }
  throw refuse('goes through too many symbolic links');
}

/**
 * Unmounts a container's image mounts and removes their view snapshots
 * (`viewKeys`); what is already gone is fine. Every mount is tried; the first
 * failure is thrown after, and then the container's directory must stay (it
 * holds the mounts).
 */
export async function releaseImageMounts(rt: RuntimeServices, containerId: string, viewKeys: readonly string[]): Promise<void> {
  const dir = imageMountsDir(rt, containerId);
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const failures: unknown[] = [];
  for (const name of names) {
    try {
      unmountAll(join(dir, name));
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw failures[0];
  for (const key of viewKeys) {
    if (rt.snapshots.stat(key)) await rt.snapshots.remove(key);
  }
}

/** The view snapshot keys of a container's image mounts: its CRI mounts' indexes name them. */
export function imageMountViewKeys(containerId: string, mounts: readonly Mount__Output[]): string[] {
  return mounts.flatMap((mount, index) => (isImageMount(mount) ? [imageMountKey(containerId, index)] : []));
}

/** Every image mount's view snapshot keys, by the id of the container it serves (one snapshot listing). */
export function imageMountViewsByOwner(rt: RuntimeServices): Map<string, string[]> {
  const byOwner = new Map<string, string[]>();
  for (const snapshot of rt.snapshots.list()) {
    const owner = snapshot.labels[IMAGE_MOUNT_OF];
    if (owner === undefined) continue;
    const keys = byOwner.get(owner) ?? [];
    keys.push(snapshot.key);
    byOwner.set(owner, keys);
  }
  return byOwner;
}
