import { InvalidArgumentError } from '../core/errors.js';
import type { UpdateRuntimeConfigRequest__Output } from '../gen/cri/runtime/v1/UpdateRuntimeConfigRequest.js';
import type { UpdateRuntimeConfigResponse } from '../gen/cri/runtime/v1/UpdateRuntimeConfigResponse.js';
import type { CriContext } from './context.js';

const CIDR = /^(?:\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

/** Stores the pod CIDR kubelet assigns to this node (a comma-separated list for dual stack). */
export async function updateRuntimeConfig(
  ctx: CriContext,
  req: UpdateRuntimeConfigRequest__Output,
): Promise<UpdateRuntimeConfigResponse> {
  const podCidr = req.runtime_config?.network_config?.pod_cidr ?? '';
  if (podCidr === '') return {};
  for (const part of podCidr.split(',')) {
    if (!CIDR.test(part.trim())) throw new InvalidArgumentError(`pod_cidr "${part}" is not a CIDR`);
  }
  if (podCidr !== ctx.network.podCidr) {
    ctx.network.podCidr = podCidr;
    await ctx.saveNetworkSettings();
    ctx.logger.info('pod CIDR updated', { podCIDR: podCidr });
  }
  return {};
}
