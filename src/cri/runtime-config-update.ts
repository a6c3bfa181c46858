import { isIP } from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import type { UpdateRuntimeConfigRequest__Output } from '../gen/cri/runtime/v1/UpdateRuntimeConfigRequest.js';
import type { UpdateRuntimeConfigResponse } from '../gen/cri/runtime/v1/UpdateRuntimeConfigResponse.js';
import type { CriContext } from './context.js';

/** An IPv4 or IPv6 network in CIDR notation: a real address and a prefix length its family allows. */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const family = isIP(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Stores the pod CIDR kubelet assigns to this node (a comma-separated list for dual stack). */
export async function updateRuntimeConfig(
  ctx: CriContext,
  req: UpdateRuntimeConfigRequest__Output,
): Promise<UpdateRuntimeConfigResponse> {
  const podCidr = req.runtime_config?.network_config?.pod_cidr ?? '';
  if (podCidr === '') return {};
  for (const part of podCidr.split(',')) {
    if (!isCidr(part.trim())) throw new InvalidArgumentError(`pod_cidr "${part}" is not a CIDR`);
  }
  if (podCidr !== ctx.network.podCidr) {
    ctx.network.podCidr = podCidr;
    await ctx.saveNetworkSettings();
    ctx.logger.info('pod CIDR updated', { podCIDR: podCidr });
  }
  return {};
}
