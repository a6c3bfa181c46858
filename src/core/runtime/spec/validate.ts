/**
 * Checks on CRI inputs the spec builder relies on. Each failure is an
 * InvalidArgumentError saying which field is wrong and how to fix it.
 */
import { posix } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import type { Mount__Output } from '../../../gen/cri/runtime/v1/Mount.js';
import type { Device__Output } from '../../../gen/cri/runtime/v1/Device.js';
import type { ContainerConfig__Output } from '../../../gen/cri/runtime/v1/ContainerConfig.js';
import type { LinuxContainerResources__Output } from '../../../gen/cri/runtime/v1/LinuxContainerResources.js';
import { int64 } from './common.js';

/** A string the kernel and runc take as a C string: a NUL inside would cut it short or make runc refuse the spec. */
export function refuseNul(value: string, what: string): void {
  if (value.includes('\0')) throw new InvalidArgumentError(`${what} contains a NUL byte`);
}

export function validateMount(mount: Mount__Output): void {
  refuseNul(mount.container_path, 'mount container_path');
  refuseNul(mount.host_path, 'mount host_path');
  if (mount.container_path === '') throw new InvalidArgumentError(`mount of "${mount.host_path}" has an empty container_path`);
  if (!posix.isAbsolute(mount.container_path)) {
    throw new InvalidArgumentError(`mount container_path "${mount.container_path}" must be an absolute path`);
  }
  const image = mount.image?.image ?? '';
  refuseNul(image, 'mount image');
  if (image !== '' && mount.host_path !== '') {
    throw new InvalidArgumentError(`mount at "${mount.container_path}" sets both host_path and image; they are mutually exclusive`);
  }
  if (image === '' && mount.host_path === '') throw new InvalidArgumentError(`mount at "${mount.container_path}" is invalid: it has an empty host_path`);
  if (image === '' && mount.image_sub_path !== '') {
    throw new InvalidArgumentError(`mount at "${mount.container_path}" sets image_sub_path without an image`);
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
    // runc writes /proc/sys/<name with dots as slashes>: every component must be a plain name.
    if (raw.split(/[./]/).some((part) => part === '' || part === '..' || part.includes('\0'))) {
      throw new InvalidArgumentError(`sysctl "${raw.slice(0, 200)}" is not a sysctl name`);
    }
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

/** The command, arguments, environment and working directory of a container, as runc will need them. */
export function validateProcessConfig(config: Pick<ContainerConfig__Output, 'command' | 'args' | 'envs' | 'working_dir'>): void {
  config.command.forEach((arg, i) => refuseNul(arg, `command[${i}]`));
  config.args.forEach((arg, i) => refuseNul(arg, `args[${i}]`));
  for (const { key, value } of config.envs) {
    if (key === '' || key.includes('=')) throw new InvalidArgumentError(`environment variable name "${key.slice(0, 200)}" must be non-empty and without "="`);
    refuseNul(key, 'environment variable name');
    refuseNul(value, `environment variable ${key.slice(0, 200)}`);
  }
  if (config.working_dir !== '') {
    refuseNul(config.working_dir, 'working_dir');
    if (!posix.isAbsolute(config.working_dir)) throw new InvalidArgumentError(`working_dir "${config.working_dir.slice(0, 200)}" must be an absolute path`);
  }
}

/**
 * Limits the kernel would refuse (runc then fails half-way through creating
 * the container): cpu shares 2..262144, a CFS period of 1 ms..1 s, a quota of
 * at least 1 ms or -1, no negative memory limits.
 */
export function validateResources(resources: LinuxContainerResources__Output | null | undefined): void {
  if (!resources) return;
  const shares = int64(resources.cpu_shares);
  if (shares !== 0 && (shares < 2 || shares > 262_144)) throw new InvalidArgumentError(`cpu_shares ${resources.cpu_shares} must be between 2 and 262144`);
  const period = int64(resources.cpu_period);
  if (period !== 0 && (period < 1000 || period > 1_000_000)) throw new InvalidArgumentError(`cpu_period ${resources.cpu_period} must be between 1000 and 1000000 microseconds`);
  const quota = int64(resources.cpu_quota);
  if (quota !== 0 && quota !== -1 && quota < 1000) throw new InvalidArgumentError(`cpu_quota ${resources.cpu_quota} must be -1 (no limit) or at least 1000 microseconds`);
  if (int64(resources.memory_limit_in_bytes) < 0) throw new InvalidArgumentError(`memory_limit_in_bytes ${resources.memory_limit_in_bytes} must not be negative`);
  if (int64(resources.memory_swap_limit_in_bytes) < -1) throw new InvalidArgumentError(`memory_swap_limit_in_bytes ${resources.memory_swap_limit_in_bytes} must be -1 (unlimited) or more`);
  for (const h of resources.hugepage_limits) {
    if (int64(h.limit) < 0) throw new InvalidArgumentError(`hugepage limit for ${h.page_size.slice(0, 32)} must not be negative`);
  }
}

/** A pod's cgroup parent as kubelet sends it: never climbing with "..". */
export function validateCgroupParent(parent: string): void {
  refuseNul(parent, 'cgroup_parent');
  if (parent.split('/').includes('..')) throw new InvalidArgumentError(`cgroup_parent "${parent.slice(0, 200)}" must not contain ".."`);
}
