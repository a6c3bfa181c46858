import type { ContainerStatusRequest__Output } from '../gen/cri/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../gen/cri/runtime/v1/ContainerStatusResponse.js';
import { refreshContainer } from './container-state.js';
import { containerConfig, toCriContainerStatus } from './container-view.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';

export async function containerStatus(ctx: CriContext, req: ContainerStatusRequest__Output): Promise<ContainerStatusResponse> {
  const rt = ctx.runtime;
  const container = refreshContainer(rt, lookupById(rt.containers, req.container_id, 'container'));
  const info: Record<string, string> = {};
  if (req.verbose) {
    const sandbox = rt.sandboxes.get(container.sandboxId);
    info.info = JSON.stringify({
      sandboxID: container.sandboxId,
      pid: container.state === 'running' ? container.pid : 0,
      removing: false,
      snapshotKey: container.id,
      runtimeType: sandbox?.runtimeHandler ?? ctx.config.default_runtime,
      bundle: rt.tasks.bundleDir(container.id),
      config: containerConfig(container),
    });
  }
  return { status: toCriContainerStatus(container), info };
}
