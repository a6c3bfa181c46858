import type { ContainerStatsRequest__Output } from '../gen/cri/runtime/v1/ContainerStatsRequest.js';
import type { ContainerStatsResponse } from '../gen/cri/runtime/v1/ContainerStatsResponse.js';
import { refreshContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';

/** ContainerStats: usage of one container (cpu and memory only while it runs). */
export async function containerStats(ctx: CriContext, req: ContainerStatsRequest__Output): Promise<ContainerStatsResponse> {
  const rt = ctx.runtime;
  const container = refreshContainer(rt, lookupById(rt.containers, req.container_id, 'container'));
  return { stats: await ctx.stats.containerStats(rt, container) };
}
