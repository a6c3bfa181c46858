import { FailedPreconditionError } from '../core/errors.js';
import { buildResources, validateResources } from '../core/runtime/spec/index.js';
import type { UpdateContainerResourcesRequest__Output } from '../gen/cri/runtime/v1/UpdateContainerResourcesRequest.js';
import type { UpdateContainerResourcesResponse } from '../gen/cri/runtime/v1/UpdateContainerResourcesResponse.js';
import { refreshContainer } from './container-state.js';
import { containerConfig } from './container-view.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';

/** Applies new limits live with `runc update` and records them in the container's config. */
export async function updateContainerResources(
  ctx: CriContext,
  req: UpdateContainerResourcesRequest__Output,
): Promise<UpdateContainerResourcesResponse> {
  const rt = ctx.runtime;
  const container = refreshContainer(rt, lookupById(rt.containers, req.container_id, 'container'));
  if (!req.linux) return {};
  validateResources(req.linux);
  await rt.locks.run(container.id, async () => {
    if (container.state === 'running' || container.state === 'created') {
      const sandbox = rt.sandboxes.get(container.sandboxId);
      const resources = buildResources(req.linux, rt.host.swapLimitSupported);
      await rt.tasks.runtime(sandbox?.runtimeHandler ?? ctx.config.default_runtime).update(container.id, resources);
    } else if (container.state === 'exited') {
      throw new FailedPreconditionError(`container ${container.id} has exited`);
    }
    const config = containerConfig(container);
    rt.containers.update(container.id, (r) => ({ ...r, config: { ...config, linux: { ...config.linux, resources: req.linux } } }));
  });
  return {};
}
