import { NotFoundError } from '../core/errors.js';
import { validateResources } from '../core/runtime/spec/index.js';
import type { UpdatePodSandboxResourcesRequest__Output } from '../gen/cri/runtime/v1/UpdatePodSandboxResourcesRequest.js';
import type { UpdatePodSandboxResourcesResponse } from '../gen/cri/runtime/v1/UpdatePodSandboxResourcesResponse.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';
import { sandboxConfig } from './sandbox-view.js';

/**
 * UpdatePodSandboxResources: kubelet has already resized the pod's cgroup
 * (in-place pod resize); the runtime records the pod-level overhead and
 * resources in its copy of the PodSandboxConfig, as cri-api asks. A field the
 * request leaves unset keeps its value. PodSandboxStatus's verbose config
 * shows the result.
 */
export async function updatePodSandboxResources(ctx: CriContext, req: UpdatePodSandboxResourcesRequest__Output): Promise<UpdatePodSandboxResourcesResponse> {
  const rt = ctx.runtime;
  const sandbox = lookupById(rt.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  validateResources(req.overhead);
  validateResources(req.resources);
  await rt.locks.run(sandbox.id, async () => {
    const current = rt.sandboxes.get(sandbox.id);
    if (!current) throw new NotFoundError(`pod sandbox "${req.pod_sandbox_id}" not found`);
    const config = sandboxConfig(current);
    const linux = {
      ...(config.linux ?? {}),
      ...(req.overhead ? { overhead: req.overhead } : {}),
      ...(req.resources ? { resources: req.resources } : {}),
    };
    rt.sandboxes.update(sandbox.id, (r) => ({ ...r, config: { ...config, linux } }));
  });
  return {};
}
