import type { PortForwardRequest__Output } from '../gen/cri/runtime/v1/PortForwardRequest.js';
import type { PortForwardResponse } from '../gen/cri/runtime/v1/PortForwardResponse.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';

/** PortForward: a single-use URL; each forwarded connection is relayed into the pod's netns. */
export async function portForward(ctx: CriContext, req: PortForwardRequest__Output): Promise<PortForwardResponse> {
  const sandbox = lookupById(ctx.runtime.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  return { url: ctx.streaming().getPortForwardUrl({ podSandboxId: sandbox.id }) };
}
