import { UnavailableError } from '../core/errors.js';
import type { PodSandboxStatsRequest__Output } from '../gen/cri/runtime/v1/PodSandboxStatsRequest.js';
import type { PodSandboxStatsResponse } from '../gen/cri/runtime/v1/PodSandboxStatsResponse.js';
import { refreshContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';
import { liveSandboxState } from './sandbox-state.js';

/** PodSandboxStats: usage of a ready pod, its network and its running containers. */
export async function podSandboxStats(ctx: CriContext, req: PodSandboxStatsRequest__Output): Promise<PodSandboxStatsResponse> {
  const rt = ctx.runtime;
  const sandbox = lookupById(rt.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  if (liveSandboxState(rt, sandbox) !== 'SANDBOX_READY') {
    // As containerd: a stopped pod has no processes, cgroup or network to measure.
    throw new UnavailableError(`pod sandbox ${sandbox.id} is not ready, so it has no stats; list it with ListPodSandbox instead`);
  }
  const containers = rt.containers.all().filter((c) => c.sandboxId === sandbox.id).map((c) => refreshContainer(rt, c));
  return { stats: await ctx.stats.sandboxStats(rt, sandbox, containers) };
}
