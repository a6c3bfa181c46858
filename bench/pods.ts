/** Pod and container configurations, and the lifecycle steps the figures time. */
import { join } from 'node:path';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../src/core/runtime/spec/index.js';
import type { RuntimeUnderTest } from './runtimes.js';
import { BUSYBOX_IMAGE } from './environment.js';

export interface PodConfig {
  metadata: { name: string; namespace: string; uid: string; attempt: number };
  hostname: string;
  log_directory: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: Record<string, never>;
}

let counter = 0;

export function podConfig(rt: RuntimeUnderTest, tag: string): PodConfig {
  const n = ++counter;
  const name = `bench-${tag}-${n}`;
  return {
    metadata: { name, namespace: 'berth-bench', uid: `uid-${process.pid}-${n}`, attempt: 0 },
    hostname: name,
    log_directory: join(rt.logDir, name),
    labels: { app: 'berth-bench', figure: tag },
    annotations: {},
    linux: {},
  };
}

/**
 * A busybox `sleep 1000`, configured as kubelet sends it: kubelet always
 * lists the masked and read-only /proc and /sys paths (procMount Default).
 * Left out, containerd 1.6 masks nothing while berth applies those same
 * defaults, and the two would not do the same work.
 */
export function sleepContainer(name: string) {
  return {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX_IMAGE },
    command: ['sleep', '1000'],
    log_path: `${name}.log`,
    labels: { app: 'berth-bench' },
    linux: { security_context: { masked_paths: [...DEFAULT_MASKED_PATHS], readonly_paths: [...DEFAULT_READONLY_PATHS] } },
  };
}

export async function runPod(rt: RuntimeUnderTest, config: PodConfig): Promise<string> {
  const res = await rt.cri.runtime.RunPodSandbox({ config });
  return res.pod_sandbox_id;
}

export async function removePod(rt: RuntimeUnderTest, id: string): Promise<void> {
  await rt.cri.runtime.StopPodSandbox({ pod_sandbox_id: id });
  await rt.cri.runtime.RemovePodSandbox({ pod_sandbox_id: id });
}

/** CreateContainer then StartContainer of a busybox `sleep 1000` in the pod; returns its id. */
export async function startSleeper(rt: RuntimeUnderTest, podId: string, pod: PodConfig, name: string): Promise<string> {
  const { container_id } = await rt.cri.runtime.CreateContainer({ pod_sandbox_id: podId, config: sleepContainer(name), sandbox_config: pod });
  await rt.cri.runtime.StartContainer({ container_id });
  return container_id;
}

/** Pulls an image unless the runtime has it. */
export async function ensureImage(rt: RuntimeUnderTest, image: string): Promise<void> {
  const status = await rt.cri.image.ImageStatus({ image: { image } });
  if (!status.image) await rt.cri.image.PullImage({ image: { image } });
}
