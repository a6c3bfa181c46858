import type { ContainerRecord } from '../core/metadata/records.js';
import type { ContainerStatsFilter__Output } from '../gen/cri/runtime/v1/ContainerStatsFilter.js';
import type { ListContainerStatsRequest__Output } from '../gen/cri/runtime/v1/ListContainerStatsRequest.js';
import type { ListContainerStatsResponse } from '../gen/cri/runtime/v1/ListContainerStatsResponse.js';
import { refreshContainer } from './container-state.js';
import { containerConfig } from './container-view.js';
import type { CriContext } from './context.js';

/** Whether a container passes a stats filter: id and pod id match as prefixes (crictl sends them), labels exactly. */
export function matchesStatsFilter(record: ContainerRecord, filter: ContainerStatsFilter__Output | null | undefined): boolean {
  if (!filter) return true;
  if (filter.id && !record.id.startsWith(filter.id)) return false;
  if (filter.pod_sandbox_id && !record.sandboxId.startsWith(filter.pod_sandbox_id)) return false;
  const labels = containerConfig(record).labels ?? {};
  return Object.entries(filter.label_selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** ListContainerStats: every container that passes the filter, as containerd lists them (exited ones without cpu/memory). */
export async function listContainerStats(ctx: CriContext, req: ListContainerStatsRequest__Output): Promise<ListContainerStatsResponse> {
  const rt = ctx.runtime;
  const selected = rt.containers.all().filter((c) => matchesStatsFilter(c, req.filter));
  const stats = await Promise.all(selected.map(async (record) => ctx.stats.containerStats(rt, refreshContainer(rt, record))));
  return { stats };
}
