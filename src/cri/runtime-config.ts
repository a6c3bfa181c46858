import type { RuntimeConfigRequest__Output } from '../gen/cri/runtime/v1/RuntimeConfigRequest.js';
import type { RuntimeConfigResponse } from '../gen/cri/runtime/v1/RuntimeConfigResponse.js';
import type { CriContext } from './context.js';

/** Tells the kubelet which cgroup driver berth uses, so both agree. */
export async function runtimeConfig(ctx: CriContext, _req: RuntimeConfigRequest__Output): Promise<RuntimeConfigResponse> {
  return { linux: { cgroup_driver: ctx.cgroupDriver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' } };
}
