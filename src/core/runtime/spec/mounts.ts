/**
 * The mount table of a container: runc's usual pseudo-filesystems, the pod's
 * /etc/hosts, /etc/hostname, /etc/resolv.conf and /dev/shm, and the CRI mounts,
 * merged the way containerd does (a CRI mount replaces anything at the same
 * destination; a /dev mount replaces everything below /dev).
 */
import { posix } from 'node:path';
import type { Mount__Output } from '../../../gen/cri/runtime/v1/Mount.js';
import type { Mount } from './oci-types.js';
import { validateMount } from './validate.js';

export interface BindRequest {
  hostPath: string;
  containerPath: string;
  readonly: boolean;
  propagation: Mount__Output['propagation'];
  recursiveReadOnly?: boolean;
}

export interface PodFiles {
  /** Host path of the pod's hosts file, bound at /etc/hosts. */
  hostsPath?: string;
  resolvConfPath?: string;
  hostnamePath?: string;
  /** Host path bound at /dev/shm (the pod's shm tmpfs, or /dev/shm for host IPC). */
  shmPath?: string;
}

export const PROC_MOUNT: Mount = { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] };
export const DEV_MOUNT: Mount = { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] };
export const DEVPTS_MOUNT: Mount = {
  destination: '/dev/pts', type: 'devpts', source: 'devpts',
  options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
};
export const MQUEUE_MOUNT: Mount = { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] };
export const SANDBOX_SHM_SIZE = '64m';

export function shmTmpfsMount(size: string): Mount {
  return { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${size}`] };
}

export function sysfsMount(writable: boolean): Mount {
  return { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', writable ? 'rw' : 'ro'] };
}

export function cgroupMount(writable: boolean): Mount {
  return { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', writable ? 'rw' : 'ro'] };
}

/** A volume the image declares, given its own host directory (see src/cri/image-volumes.ts). */
export interface ImageVolumeBind {
  containerPath: string;
  hostPath: string;
}

export interface ContainerMountsInput {
  criMounts: readonly Mount__Output[];
  pod: PodFiles;
  /** Read-write binds for the image's volumes; a CRI mount at the same path wins. */
  imageVolumes?: readonly ImageVolumeBind[];
  readonlyRootfs: boolean;
  privileged: boolean;
}

export interface ContainerMounts {
  mounts: Mount[];
  /** rootfs propagation the binds need ("rslave"/"rshared"), undefined for runc's default. */
  rootfsPropagation?: string;
}

export function buildContainerMounts(input: ContainerMountsInput): ContainerMounts {
  for (const m of input.criMounts) validateMount(m);
  const binds: BindRequest[] = input.criMounts.map((m) => ({
    hostPath: m.host_path,
    containerPath: m.container_path,
    readonly: m.readonly,
    propagation: m.propagation,
    recursiveReadOnly: m.recursive_read_only,
  }));
  const criDestinations = new Set(binds.map((b) => cleanPath(b.containerPath)));
  const imageVolumes = (input.imageVolumes ?? []).map((v): BindRequest => ({ ...v, readonly: false, propagation: 'PROPAGATION_PRIVATE' }));
  for (const extra of [...podBinds(input.pod, input.readonlyRootfs), ...imageVolumes]) {
    if (!criDestinations.has(cleanPath(extra.containerPath))) binds.push(extra);
  }
  // Array.prototype.sort is stable: equal depths keep CRI mounts before the pod's files.
  binds.sort((a, b) => depth(a.containerPath) - depth(b.containerPath));

  const defaults = [
    PROC_MOUNT, DEV_MOUNT, DEVPTS_MOUNT, shmTmpfsMount('65536k'), MQUEUE_MOUNT,
    sysfsMount(input.privileged), cgroupMount(input.privileged),
  ];
  const bound = new Set(binds.map((b) => cleanPath(b.containerPath)));
  const mounts: Mount[] = defaults
    .filter((m) => !bound.has(m.destination) && !(bound.has('/dev') && m.destination.startsWith('/dev/')))
    .map(cloneMount);

  let rootfsPropagation: string | undefined;
  for (const bind of binds) {
    const options = ['rbind'];
    switch (bind.propagation) {
      case 'PROPAGATION_BIDIRECTIONAL':
        options.push('rshared');
        rootfsPropagation = 'rshared';
        break;
      case 'PROPAGATION_HOST_TO_CONTAINER':
        options.push('rslave');
        if (rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
        break;
      default:
        options.push('rprivate');
    }
    options.push(bind.readonly ? (bind.recursiveReadOnly ? 'rro' : 'ro') : 'rw');
    mounts.push({ destination: bind.containerPath, type: 'bind', source: bind.hostPath, options });
  }
  const result: ContainerMounts = { mounts };
  if (rootfsPropagation !== undefined) result.rootfsPropagation = rootfsPropagation;
  return result;
}

function podBinds(pod: PodFiles, readonlyRootfs: boolean): BindRequest[] {
  const binds: BindRequest[] = [];
  const add = (hostPath: string | undefined, containerPath: string, readonly: boolean): void => {
    if (hostPath !== undefined && hostPath !== '') binds.push({ hostPath, containerPath, readonly, propagation: 'PROPAGATION_PRIVATE' });
  };
  add(pod.hostnamePath, '/etc/hostname', readonlyRootfs);
  add(pod.hostsPath, '/etc/hosts', readonlyRootfs);
  add(pod.resolvConfPath, '/etc/resolv.conf', readonlyRootfs);
  add(pod.shmPath, '/dev/shm', false);
  return binds;
}

/** Like Go's filepath.Clean for absolute paths: "/sys/" and "/sys/./" are "/sys". */
export function cleanPath(path: string): string {
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** Number of path components, the order containerd mounts in so parents come before children. */
export function depth(path: string): number {
  return posix.normalize(path).split('/').filter((p) => p !== '').length;
}

export function cloneMount(m: Mount): Mount {
  return m.options ? { ...m, options: [...m.options] } : { ...m };
}
