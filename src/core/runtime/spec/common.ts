/** Small rules shared by the container and sandbox spec builders. */
import { posix } from 'node:path';
import type { PodSandboxConfig__Output } from '../../../gen/cri/runtime/v1/PodSandboxConfig.js';
import type { Rlimit } from './oci-types.js';

export type CgroupDriver = 'cgroupfs' | 'systemd';

/** Where we put our own name in systemd scope names (containerd uses "cri-containerd"). */
export const SYSTEMD_SCOPE_PREFIX = 'berth';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * What containerd's containers end up with in practice (its systemd unit sets
 * LimitNOFILE=infinity → 1048576). containerd itself leaves rlimits unset so
 * containers inherit the runtime's, and so do the builders by default: raising a
 * hard limit needs CAP_SYS_RESOURCE, which some hosts (this one) withhold, and
 * runc then refuses to start the container. Pass this as `rlimits` to pin it.
 */
export const DEFAULT_RLIMITS: readonly Rlimit[] = [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }];

export const Annotations = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  sandboxLogDirectory: 'io.kubernetes.cri.sandbox-log-directory',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
} as const;

/**
 * The runtime's cgroupsPath for a pod or container: `<parent>/<id>` for
 * cgroupfs, `<parent slice>:berth:<id>` for systemd; undefined without a parent.
 */
export function cgroupsPath(parent: string, id: string, driver: CgroupDriver): string | undefined {
  if (parent === '') return undefined;
  if (driver === 'systemd') {
    const slice = posix.basename(parent);
    return `${slice.endsWith('.slice') ? slice : `${slice}.slice`}:${SYSTEMD_SCOPE_PREFIX}:${id}`;
  }
  return posix.join(parent, id);
}

/** containerd's restrict_oom_score_adj: never go below the daemon's own score. */
export function clampOomScoreAdj(requested: number, floor: number): number {
  return Math.min(1000, Math.max(requested, floor));
}

export function sandboxAnnotations(sandboxId: string, config: PodSandboxConfig__Output): Record<string, string> {
  return {
    [Annotations.sandboxId]: sandboxId,
    [Annotations.sandboxName]: config.metadata?.name ?? '',
    [Annotations.sandboxNamespace]: config.metadata?.namespace ?? '',
    [Annotations.sandboxUid]: config.metadata?.uid ?? '',
  };
}

/** Sets each `KEY=value` of `overrides` in `env`: replaced in place when the key exists, appended otherwise. */
export function mergeEnv(env: readonly string[], overrides: readonly string[]): string[] {
  const result = [...env];
  for (const entry of overrides) {
    const key = envKey(entry);
    const idx = result.findIndex((e) => envKey(e) === key);
    if (idx >= 0) result[idx] = entry;
    else result.push(entry);
  }
  return result;
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** int64 CRI field (a decimal string in __Output types) as a number. */
export function int64(value: string | number | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}
