/**
 * RunPodSandbox's OCI spec for the pause container, which holds the pod's
 * namespaces: following containerd's sandbox spec (new pid/ipc/uts/net unless
 * the pod shares the host's, its own /dev/shm, cpu shares 2, oom_score_adj -998).
 */
import { InvalidArgumentError } from '../../errors.js';
import type { ImageConfig } from '../../images/manifest.js';
import type { PodSandboxConfig__Output } from '../../../gen/cri/runtime/v1/PodSandboxConfig.js';
import { OCI_VERSION, type LinuxNamespace, type Mount, type Rlimit, type Seccomp, type Spec } from './oci-types.js';
import { ALL_CAPABILITIES, computeCapabilities } from './capabilities.js';
import {
  Annotations, DEFAULT_PATH_ENV, cgroupsPath, clampOomScoreAdj, mergeEnv, sandboxAnnotations,
} from './common.js';
import { DEFAULT_DEVICE_RULES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, type HostFacts } from './container-spec.js';
import { DEV_MOUNT, DEVPTS_MOUNT, MQUEUE_MOUNT, PROC_MOUNT, SANDBOX_SHM_SIZE, cloneMount, shmTmpfsMount, sysfsMount } from './mounts.js';
import { resolveAppArmor, resolveSeccomp, seccompChoice } from './security.js';
import type { ResolvedUser } from './user.js';
import { validateSysctls } from './validate.js';

/** containerd's defaultSandboxOOMAdj: the pause process is among the last the OOM killer picks. */
export const SANDBOX_OOM_SCORE_ADJ = -998;
/** Minimal cpu shares for the pause container (containerd's DefaultSandboxCPUshares). */
export const SANDBOX_CPU_SHARES = 2;

export interface SandboxSpecInput {
  id: string;
  config: PodSandboxConfig__Output;
  imageConfig: ImageConfig;
  imageName: string;
  /** From resolveUser with run_as_user/run_as_group of the pod's security context. */
  user: ResolvedUser;
  rootfsPath: string;
  /** The pod's pinned network namespace; required unless the pod uses the host network. */
  netnsPath?: string;
  /**
   * Host path to bind at /dev/shm (a tmpfs the caller mounted, so containers can
   * bind the same one). Without it the sandbox gets its own 64m tmpfs; with host
   * IPC it is the host's /dev/shm.
   */
  shmPath?: string;
  host: Pick<HostFacts, 'cgroupDriver' | 'cgroupV2' | 'oomScoreAdjFloor' | 'seccompAvailable' | 'apparmorAvailable' | 'apparmorDefaultProfile' | 'allCapabilities'>;
  localhostSeccompProfile?: Seccomp;
  /** Process rlimits; by default none, so the container inherits the runtime's (as in containerd). */
  rlimits?: readonly Rlimit[];
}

export function buildSandboxSpec(input: SandboxSpecInput): Spec {
  const { config, imageConfig } = input;
  const sc = config.linux?.security_context ?? null;
  const ns = sc?.namespace_options ?? null;
  const hostNetwork = ns?.network === 'NODE';
  const hostPid = ns?.pid === 'NODE';
  const hostIpc = ns?.ipc === 'NODE';
  const privileged = sc?.privileged ?? false;

  const args = [...(imageConfig.config.Entrypoint ?? []), ...(imageConfig.config.Cmd ?? [])];
  if (args.length === 0) throw new InvalidArgumentError(`sandbox image ${input.imageName} has no Entrypoint or Cmd to run`);

  const sysctls = config.linux?.sysctls ?? {};
  validateSysctls(sysctls, { hostNetwork, hostIpc });

  const namespaces: LinuxNamespace[] = [];
  if (!hostPid) namespaces.push({ type: 'pid' });
  if (!hostNetwork) {
    if (!input.netnsPath) throw new InvalidArgumentError(`sandbox ${input.id} needs a network namespace path unless it uses the host network`);
    namespaces.push({ type: 'network', path: input.netnsPath });
  }
  if (!hostIpc) namespaces.push({ type: 'ipc' });
  if (!hostNetwork) namespaces.push({ type: 'uts' });
  namespaces.push({ type: 'mount' });
  if (input.host.cgroupV2 && !privileged) namespaces.push({ type: 'cgroup' });

  const capabilities = computeCapabilities(undefined, input.host.allCapabilities ?? ALL_CAPABILITIES);
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args,
      env: mergeEnv([DEFAULT_PATH_ENV], imageConfig.config.Env ?? []),
      cwd: imageConfig.config.WorkingDir || '/',
      capabilities,
      noNewPrivileges: true,
      oomScoreAdj: clampOomScoreAdj(SANDBOX_OOM_SCORE_ADJ, input.host.oomScoreAdjFloor),
    },
    root: { path: input.rootfsPath, readonly: sc?.readonly_rootfs ?? false },
    mounts: sandboxMounts(hostIpc, input.shmPath, privileged),
    annotations: {
      ...config.annotations,
      [Annotations.containerType]: 'sandbox',
      ...sandboxAnnotations(input.id, config),
      [Annotations.sandboxLogDirectory]: config.log_directory,
      [Annotations.imageName]: input.imageName,
    },
    linux: {
      namespaces,
      resources: { devices: DEFAULT_DEVICE_RULES.map((r) => ({ ...r })), cpu: { shares: SANDBOX_CPU_SHARES } },
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (!hostNetwork && config.hostname !== '') spec.hostname = config.hostname;
  if (Object.keys(sysctls).length > 0) spec.linux.sysctl = { ...sysctls };
  const cgPath = cgroupsPath(config.linux?.cgroup_parent ?? '', input.id, input.host.cgroupDriver);
  if (cgPath !== undefined) spec.linux.cgroupsPath = cgPath;
  if (input.rlimits) spec.process.rlimits = input.rlimits.map((r) => ({ ...r }));

  // A pod that asks for nothing still gets RuntimeDefault: pause needs almost no syscalls.
  const seccomp = resolveSeccomp({
    choice: seccompChoice(sc, { kind: 'RuntimeDefault' }),
    privileged,
    seccompAvailable: input.host.seccompAvailable,
    boundingCaps: capabilities.bounding,
    ...(input.localhostSeccompProfile ? { localhostProfile: input.localhostSeccompProfile } : {}),
  });
  if (seccomp) spec.linux.seccomp = seccomp;
  const apparmor = resolveAppArmor({
    sc: sc ? { apparmor: sc.apparmor, apparmor_profile: '' } : null,
    privileged,
    available: input.host.apparmorAvailable,
    defaultProfile: input.host.apparmorDefaultProfile,
  });
  if (apparmor !== undefined) spec.process.apparmorProfile = apparmor;
  return spec;
}

/**
 * A pod's sysfs mounts share one superblock per network namespace, and the pause
 * container mounts it first: a read-only one would leave /sys read-only for the
 * pod's privileged containers too, so a privileged pod's sandbox mounts it rw.
 */
function sandboxMounts(hostIpc: boolean, shmPath: string | undefined, privileged: boolean): Mount[] {
  const shmSource = hostIpc ? '/dev/shm' : shmPath;
  const shm: Mount = shmSource
    ? { destination: '/dev/shm', type: 'bind', source: shmSource, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] }
    : shmTmpfsMount(SANDBOX_SHM_SIZE);
  return [cloneMount(PROC_MOUNT), cloneMount(DEV_MOUNT), cloneMount(DEVPTS_MOUNT), shm, cloneMount(MQUEUE_MOUNT), sysfsMount(privileged)];
}
