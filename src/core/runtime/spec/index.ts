/** The OCI runtime spec builder: CRI configs + image config → config.json. */
export * from './oci-types.js';
export { buildContainerSpec, containerArgs, containerEnv, containerNamespaces, buildResources, stopSignal, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_DEVICE_RULES } from './container-spec.js';
export type { ContainerSpecInput, HostDevice, HostFacts, SandboxFacts } from './container-spec.js';
export { buildSandboxSpec, SANDBOX_CPU_SHARES, SANDBOX_OOM_SCORE_ADJ } from './sandbox-spec.js';
export type { SandboxSpecInput } from './sandbox-spec.js';
export { resolveUser, parsePasswd, parseGroup } from './user.js';
export type { CriUser, ResolveUserInput, ResolvedUser, SupplementalGroupsPolicy } from './user.js';
export { seccompLocalhostPath } from './security.js';
export { parseSeccompProfile } from './seccomp-localhost.js';
export { defaultSeccompProfile } from './seccomp-default.js';
export { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, capabilitiesFromStatus, computeCapabilities, normalizeCapability } from './capabilities.js';
export { cgroupsPath, clampOomScoreAdj, DEFAULT_RLIMITS } from './common.js';
export { normalizeSignal, signalNumber, DEFAULT_STOP_SIGNAL } from './stop-signal.js';
export { validateCgroupParent, validateMount, validateDevice, validateProcessConfig, validateResources, validateSysctls, refuseNul } from './validate.js';
export { cleanPath } from './mounts.js';
export type { ImageVolumeBind, PodFiles } from './mounts.js';
