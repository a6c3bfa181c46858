import type { ContainerRecord, SandboxRecord } from '../core/metadata/records.js';
import type { ListPodSandboxStatsRequest__Output } from '../gen/cri/runtime/v1/ListPodSandboxStatsRequest.js';
import type { ListPodSandboxStatsResponse } from '../gen/cri/runtime/v1/ListPodSandboxStatsResponse.js';
import type { PodSandboxStatsFilter__Output } from '../gen/cri/runtime/v1/PodSandboxStatsFilter.js';
import { refreshContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { liveSandboxState } from './sandbox-state.js';
import { sandboxConfig } from './sandbox-view.js';
import type { RuntimeServices } from './runtime-services.js';

export function matchesSandboxStatsFilter(sandbox: SandboxRecord, filter: PodSandboxStatsFilter__Output | null | undefined): boolean {
  if (!filter) return true;
  if (filter.id && !sandbox.id.startsWith(filter.id)) return false;
  const labels = sandboxConfig(sandbox).labels ?? {};
  return Object.entries(filter.label_selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** Ready pods that pass the filter, with their containers refreshed from conmon's exit files. */
export async function readyPodsWithContainers(
  rt: RuntimeServices,
  filter: PodSandboxStatsFilter__Output | null | undefined,
): Promise<{ sandbox: SandboxRecord; containers: ContainerRecord[] }[]> {
  const out: { sandbox: SandboxRecord; containers: ContainerRecord[] }[] = [];
  for (const sandbox of rt.sandboxes.all()) {
    if (!matchesSandboxStatsFilter(sandbox, filter)) continue;
    if (liveSandboxState(rt, sandbox) !== 'SANDBOX_READY') continue;
    const containers = rt.containers.all().filter((c) => c.sandboxId === sandbox.id).map((c) => refreshContainer(rt, c));
    out.push({ sandbox, containers });
  }
  return out;
}

/** ListPodSandboxStats: ready pods only; stopped ones have nothing to measure (containerd skips them too). */
export async function listPodSandboxStats(ctx: CriContext, req: ListPodSandboxStatsRequest__Output): Promise<ListPodSandboxStatsResponse> {
  const rt = ctx.runtime;
  const pods = await readyPodsWithContainers(rt, req.filter);
  return { stats: await Promise.all(pods.map(({ sandbox, containers }) => ctx.stats.sandboxStats(rt, sandbox, containers))) };
}
