/**
 * Checks on CRI inputs the spec builder relies on. Each failure is an
 * InvalidArgumentError saying which field is wrong and how to fix it.
 */
import { posix } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import type { Mount__Output } from '../../../gen/cri/runtime/v1/Mount.js';
import type { Device__Output } from '../../../gen/cri/runtime/v1/Device.js';

export function validateMount(mount: Mount__Output): void {
  if (mount.container_path === '') throw new InvalidArgumentError(`mount of "${mount.host_path}" has an empty container_path`);
  if (!posix.isAbsolute(mount.container_path)) {
    throw new InvalidArgumentError(`mount container_path "${mount.container_path}" must be an absolute path`);
  }
  if (mount.host_path === '') {
    const why = mount.image ? 'image volume mounts are not supported' : 'it has an empty host_path';
    throw new InvalidArgumentError(`mount at "${mount.container_path}" is invalid: ${why}`);
  }
  if (mount.host_path !== '' && !posix.isAbsolute(mount.host_path)) {
    throw new InvalidArgumentError(`mount host_path "${mount.host_path}" must be an absolute path`);
  }
  if (mount.recursive_read_only && !mount.readonly) {
    throw new InvalidArgumentError(`mount at "${mount.container_path}": recursive_read_only needs readonly`);
  }
  if (mount.recursive_read_only && mount.propagation !== 'PROPAGATION_PRIVATE') {
    throw new InvalidArgumentError(`mount at "${mount.container_path}": recursive_read_only needs private propagation, got ${mount.propagation}`);
  }
}

export function validateDevice(device: Device__Output): void {
  if (device.host_path === '') throw new InvalidArgumentError(`device for "${device.container_path}" has an empty host_path`);
  if (!posix.isAbsolute(device.host_path)) throw new InvalidArgumentError(`device host_path "${device.host_path}" must be absolute`);
  if (device.container_path !== '' && !posix.isAbsolute(device.container_path)) {
    throw new InvalidArgumentError(`device container_path "${device.container_path}" must be absolute`);
  }
  validateDevicePermissions(device.permissions, device.host_path);
}

/** Device cgroup access: a non-empty combination of r, w and m. Empty means "rwm". */
export function validateDevicePermissions(permissions: string, what: string): void {
  if (permissions !== '' && !/^[rwm]{1,3}$/.test(permissions)) {
    throw new InvalidArgumentError(`device ${what}: permissions "${permissions}" must be made of r, w and m`);
  }
}

// Sysctls namespaced by IPC (kernel docs; the same list runc checks).
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);
const UTS_SYSCTLS = new Set(['kernel.domainname', 'kernel.hostname']);

export interface SysctlNamespaces {
  hostNetwork: boolean;
  hostIpc: boolean;
}

/**
 * Refuses sysctls that would change the host: net.* with host network,
 * IPC sysctls with host IPC, and the UTS ones (runc sets the hostname itself).
 */
export function validateSysctls(sysctls: Readonly<Record<string, string>>, ns: SysctlNamespaces): void {
  for (const raw of Object.keys(sysctls)) {
    const key = raw.replaceAll('/', '.');
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (ns.hostIpc) throw new InvalidArgumentError(`sysctl "${raw}" is not allowed with host IPC: it would change the host`);
      continue;
    }
    if (key.startsWith('net.')) {
      if (ns.hostNetwork) throw new InvalidArgumentError(`sysctl "${raw}" is not allowed with host network: it would change the host`);
      continue;
    }
    if (UTS_SYSCTLS.has(key)) {
      throw new InvalidArgumentError(`sysctl "${raw}" is not allowed: set the pod hostname instead`);
    }
    throw new InvalidArgumentError(`sysctl "${raw}" is not namespaced; only net.*, fs.mqueue.* and IPC kernel.* sysctls may be set per pod`);
  }
}
