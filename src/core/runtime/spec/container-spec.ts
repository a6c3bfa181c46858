/**
 * CreateContainer's OCI spec: the CRI container config, the pod's sandbox
 * config and the image config turned into config.json for runc, following
 * containerd's CRI plugin. Pure: every fact that needs I/O (the resolved user,
 * stat'ed devices, a Localhost seccomp profile, the sandbox's pid) is an input.
 */
import { FailedPreconditionError, InvalidArgumentError } from '../../errors.js';
import type { ImageConfig } from '../../images/manifest.js';
import type { ContainerConfig__Output } from '../../../gen/cri/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig__Output } from '../../../gen/cri/runtime/v1/PodSandboxConfig.js';
import type { LinuxContainerResources__Output } from '../../../gen/cri/runtime/v1/LinuxContainerResources.js';
import type { NamespaceOption__Output } from '../../../gen/cri/runtime/v1/NamespaceOption.js';
import {
  OCI_VERSION, type Capabilities, type LinuxDevice, type LinuxDeviceCgroup, type LinuxNamespace, type LinuxResources,
  type Rlimit, type Seccomp, type Spec,
} from './oci-types.js';
import { ALL_CAPABILITIES, allCapabilitySets, computeCapabilities } from './capabilities.js';
import {
  Annotations, DEFAULT_PATH_ENV, cgroupsPath, clampOomScoreAdj, int64, mergeEnv, sandboxAnnotations,
  type CgroupDriver,
} from './common.js';
import { buildContainerMounts, type ImageVolumeBind, type PodFiles } from './mounts.js';
import { resolveAppArmor, resolveSeccomp, seccompChoice } from './security.js';
import { validateDevice } from './validate.js';
import type { ResolvedUser } from './user.js';

export { stopSignal } from './stop-signal.js';

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** runc's standard device allowlist after a deny-all: mknod anything, the usual char devices, ptys and tun. */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** A host device node as the caller found it (stat of the CRI device's host_path). */
export interface HostDevice {
  hostPath: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SandboxFacts {
  id: string;
  /** Pid of the sandbox (pause) process, whose namespaces the container joins. */
  pid: number;
  /** Pinned network namespace of the pod; /proc/<pid>/ns/net when absent. */
  netnsPath?: string;
  files: PodFiles;
}

export interface HostFacts {
  cgroupDriver: CgroupDriver;
  /** cgroup v2 only (unified): containers get their own cgroup namespace. */
  cgroupV2: boolean;
  /** The daemon's own oom_score_adj: nothing may go lower. */
  oomScoreAdjFloor: number;
  seccompAvailable: boolean;
  apparmorAvailable: boolean;
  /** AppArmor profile name that stands for RuntimeDefault. */
  apparmorDefaultProfile: string;
  /** Whether memory.memsw (v1) / memory.swap.max (v2) exists, so a swap limit can be set. */
  swapLimitSupported: boolean;
  /** The node's hostname, used for $HOSTNAME when the pod has none (host network). */
  nodeHostname: string;
  /** What "ALL" means: the capabilities this kernel supports. */
  allCapabilities?: readonly string[];
}

export interface ContainerSpecInput {
  id: string;
  config: ContainerConfig__Output;
  sandboxConfig: PodSandboxConfig__Output;
  imageConfig: ImageConfig;
  /** The image reference to record in annotations. */
  imageName: string;
  user: ResolvedUser;
  rootfsPath: string;
  sandbox: SandboxFacts;
  host: HostFacts;
  /** Pid of the target container when pid namespace mode is TARGET. */
  targetPid?: number;
  /** Stat results for each CRI device's host_path. */
  devices?: readonly HostDevice[];
  /** Every host device, added to privileged containers. */
  hostDevices?: readonly LinuxDevice[];
  /** The parsed Localhost seccomp profile when the context asks for one. */
  localhostSeccompProfile?: Seccomp;
  /** Process rlimits; by default none, so the container inherits the runtime's (as in containerd). */
  rlimits?: readonly Rlimit[];
  /** Host directories for the image's volumes (see src/cri/image-volumes.ts). */
  imageVolumes?: readonly ImageVolumeBind[];
}

export function buildContainerSpec(input: ContainerSpecInput): Spec {
  const { config, sandboxConfig, host } = input;
  const sc = config.linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  if (privileged && !sandboxConfig.linux?.security_context?.privileged) {
    throw new FailedPreconditionError(`container ${config.metadata?.name ?? input.id} is privileged but its pod sandbox is not; privileged containers need a privileged pod`);
  }
  const readonlyRootfs = sc?.readonly_rootfs ?? false;

  const capabilities: Capabilities = privileged
    ? allCapabilitySets(host.allCapabilities ?? ALL_CAPABILITIES)
    : computeCapabilities(
        sc?.capabilities
          ? { add: sc.capabilities.add_capabilities, drop: sc.capabilities.drop_capabilities, addAmbient: sc.capabilities.add_ambient_capabilities }
          : undefined,
        host.allCapabilities ?? ALL_CAPABILITIES,
      );

  const { mounts, rootfsPropagation } = buildContainerMounts({
    criMounts: config.mounts,
    pod: input.sandbox.files,
    ...(input.imageVolumes ? { imageVolumes: input.imageVolumes } : {}),
    readonlyRootfs,
    privileged,
  });

  const resourcesIn = config.linux?.resources ?? null;
  const resources = buildResources(resourcesIn, host.swapLimitSupported);
  const { devices, rules } = buildDevices(input, privileged);
  resources.devices = rules;

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: config.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args: containerArgs(config, input.imageConfig),
      env: containerEnv(config, input.imageConfig, sandboxConfig.hostname || host.nodeHostname),
      cwd: config.working_dir || input.imageConfig.config.WorkingDir || '/',
      capabilities,
      noNewPrivileges: sc?.no_new_privs ?? false,
    },
    root: { path: input.rootfsPath, readonly: readonlyRootfs },
    mounts,
    annotations: {
      ...config.annotations,
      [Annotations.containerType]: 'container',
      ...sandboxAnnotations(input.sandbox.id, sandboxConfig),
      [Annotations.containerName]: config.metadata?.name ?? '',
      [Annotations.imageName]: input.imageName,
    },
    linux: {
      namespaces: containerNamespaces(sc?.namespace_options ?? null, input, privileged),
      resources,
      maskedPaths: privileged ? [] : pathsOrDefault(sc?.masked_paths, DEFAULT_MASKED_PATHS),
      readonlyPaths: privileged ? [] : pathsOrDefault(sc?.readonly_paths, DEFAULT_READONLY_PATHS),
    },
  };
  if (devices.length > 0) spec.linux.devices = devices;
  if (rootfsPropagation !== undefined) spec.linux.rootfsPropagation = rootfsPropagation;
  const cgPath = cgroupsPath(sandboxConfig.linux?.cgroup_parent ?? '', input.id, host.cgroupDriver);
  if (cgPath !== undefined) spec.linux.cgroupsPath = cgPath;
  if (input.rlimits) spec.process.rlimits = input.rlimits.map((r) => ({ ...r }));
  if (resourcesIn) spec.process.oomScoreAdj = clampOomScoreAdj(int64(resourcesIn.oom_score_adj), host.oomScoreAdjFloor);

  const seccomp = resolveSeccomp({
    choice: seccompChoice(sc, { kind: 'Unconfined' }),
    privileged,
    seccompAvailable: host.seccompAvailable,
    boundingCaps: capabilities.bounding,
    ...(input.localhostSeccompProfile ? { localhostProfile: input.localhostSeccompProfile } : {}),
  });
  if (seccomp) spec.linux.seccomp = seccomp;
  const apparmor = resolveAppArmor({ sc, privileged, available: host.apparmorAvailable, defaultProfile: host.apparmorDefaultProfile });
  if (apparmor !== undefined) spec.process.apparmorProfile = apparmor;
  return spec;
}

/**
 * Kubernetes' command/args rules: command replaces the image Entrypoint (and
 * drops its Cmd), args replace the image Cmd.
 */
export function containerArgs(config: Pick<ContainerConfig__Output, 'command' | 'args'>, imageConfig: Pick<ImageConfig, 'config'>): string[] {
  const image = imageConfig.config;
  let command = [...config.command];
  let args = [...config.args];
  if (command.length === 0) {
    if (args.length === 0) args = [...(image.Cmd ?? [])];
    const entrypoint = image.Entrypoint ?? [];
    // An image may clear its Entrypoint with [""].
    if (!(entrypoint.length === 1 && entrypoint[0] === '')) command = [...entrypoint];
  }
  const argv = [...command, ...args];
  if (argv.length === 0) {
    throw new InvalidArgumentError('no command specified: set command or args, or use an image with an Entrypoint or Cmd');
  }
  return argv;
}

/** PATH default, then HOSTNAME, then the image's env, then the CRI envs; later keys replace earlier ones in place. */
export function containerEnv(config: Pick<ContainerConfig__Output, 'envs'>, imageConfig: Pick<ImageConfig, 'config'>, hostname: string): string[] {
  let env = [DEFAULT_PATH_ENV];
  env = mergeEnv(env, [`HOSTNAME=${hostname}`]);
  env = mergeEnv(env, imageConfig.config.Env ?? []);
  env = mergeEnv(env, config.envs.map((kv) => `${kv.key}=${kv.value}`));
  return env;
}

function pathsOrDefault(paths: readonly string[] | undefined, defaults: readonly string[]): string[] {
  return paths && paths.length > 0 ? [...paths] : [...defaults];
}

export function containerNamespaces(
  options: NamespaceOption__Output | null,
  input: Pick<ContainerSpecInput, 'sandbox' | 'targetPid' | 'host'>,
  privileged: boolean,
): LinuxNamespace[] {
  const pid = input.sandbox.pid;
  const network = options?.network ?? 'POD';
  const ipc = options?.ipc ?? 'POD';
  const pidMode = options?.pid ?? 'POD';
  const namespaces: LinuxNamespace[] = [];

  switch (pidMode) {
    case 'CONTAINER':
      namespaces.push({ type: 'pid' });
      break;
    case 'NODE':
      break;
    case 'TARGET':
      if (input.targetPid === undefined || input.targetPid <= 0) {
        throw new InvalidArgumentError(`pid namespace TARGET "${options?.target_id ?? ''}" needs the target container's pid`);
      }
      namespaces.push({ type: 'pid', path: `/proc/${input.targetPid}/ns/pid` });
      break;
    default:
      namespaces.push({ type: 'pid', path: `/proc/${pid}/ns/pid` });
  }
  if (network !== 'NODE') {
    namespaces.push({ type: 'network', path: input.sandbox.netnsPath ?? `/proc/${pid}/ns/net` });
  }
  if (ipc !== 'NODE') namespaces.push({ type: 'ipc', path: `/proc/${pid}/ns/ipc` });
  // The pod's hostname lives in the sandbox's UTS namespace; host network means the host's.
  if (network !== 'NODE') namespaces.push({ type: 'uts', path: `/proc/${pid}/ns/uts` });
  namespaces.push({ type: 'mount' });
  if (input.host.cgroupV2 && !privileged) namespaces.push({ type: 'cgroup' });
  return namespaces;
}

export function buildResources(resources: LinuxContainerResources__Output | null, swapLimitSupported: boolean): LinuxResources {
  const out: LinuxResources = {};
  if (!resources) return out;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  const period = int64(resources.cpu_period);
  const quota = int64(resources.cpu_quota);
  const shares = int64(resources.cpu_shares);
  if (period !== 0) cpu.period = period;
  if (quota !== 0) cpu.quota = quota;
  if (shares !== 0) cpu.shares = shares;
  if (resources.cpuset_cpus !== '') cpu.cpus = resources.cpuset_cpus;
  if (resources.cpuset_mems !== '') cpu.mems = resources.cpuset_mems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const memory: NonNullable<LinuxResources['memory']> = {};
  const limit = int64(resources.memory_limit_in_bytes);
  const swap = int64(resources.memory_swap_limit_in_bytes);
  if (limit !== 0) {
    memory.limit = limit;
    // Equal memory and memory+swap limits: no swapping unless asked for.
    if (swap === 0 && swapLimitSupported) memory.swap = limit;
  }
  if (swap !== 0 && swapLimitSupported) memory.swap = swap;
  if (Object.keys(memory).length > 0) out.memory = memory;

  if (resources.hugepage_limits.length > 0) {
    out.hugepageLimits = resources.hugepage_limits.map((h) => ({ pageSize: h.page_size, limit: int64(h.limit) }));
  }
  if (Object.keys(resources.unified).length > 0) out.unified = { ...resources.unified };
  return out;
}

function buildDevices(input: ContainerSpecInput, privileged: boolean): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  const devices: LinuxDevice[] = [];
  const rules: LinuxDeviceCgroup[] = privileged
    ? [{ allow: true, access: 'rwm' }]
    : DEFAULT_DEVICE_RULES.map((r) => ({ ...r }));
  if (privileged) for (const d of input.hostDevices ?? []) devices.push({ ...d });

  for (const requested of input.config.devices) {
    validateDevice(requested);
    const found = input.devices?.find((d) => d.hostPath === requested.host_path);
    if (!found) throw new InvalidArgumentError(`device "${requested.host_path}" was not found on the host`);
    const access = requested.permissions || 'rwm';
    const device: LinuxDevice = {
      path: requested.container_path || requested.host_path,
      type: found.type,
      major: found.major,
      minor: found.minor,
    };
    if (found.fileMode !== undefined) device.fileMode = found.fileMode;
    if (found.uid !== undefined) device.uid = found.uid;
    if (found.gid !== undefined) device.gid = found.gid;
    const existing = devices.findIndex((d) => d.path === device.path);
    if (existing >= 0) devices.splice(existing, 1);
    devices.push(device);
    if (!privileged) rules.push({ allow: true, type: found.type, major: found.major, minor: found.minor, access });
  }
  return { devices, rules };
}

