import type { ListPodSandboxMetricsRequest__Output } from '../gen/cri/runtime/v1/ListPodSandboxMetricsRequest.js';
import type { ListPodSandboxMetricsResponse } from '../gen/cri/runtime/v1/ListPodSandboxMetricsResponse.js';
import type { CriContext } from './context.js';
import { readyPodsWithContainers } from './sandbox-stats-list.js';

/** ListPodSandboxMetrics: cAdvisor-style series of every ready pod and its running containers. */
export async function listPodSandboxMetrics(ctx: CriContext, _req: ListPodSandboxMetricsRequest__Output): Promise<ListPodSandboxMetricsResponse> {
  const rt = ctx.runtime;
  const pods = await readyPodsWithContainers(rt, undefined);
  return { pod_metrics: await Promise.all(pods.map(({ sandbox, containers }) => ctx.stats.sandboxMetrics(rt, sandbox, containers))) };
}
