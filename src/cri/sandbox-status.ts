import type { PodSandboxStatusRequest__Output } from '../gen/cri/runtime/v1/PodSandboxStatusRequest.js';
import type { PodSandboxStatusResponse } from '../gen/cri/runtime/v1/PodSandboxStatusResponse.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';
import { liveSandboxState } from './sandbox-state.js';
import { sandboxConfig, toCriSandboxStatus } from './sandbox-view.js';

export async function podSandboxStatus(ctx: CriContext, req: PodSandboxStatusRequest__Output): Promise<PodSandboxStatusResponse> {
  const rt = ctx.runtime;
  const sandbox = lookupById(rt.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  const state = liveSandboxState(rt, sandbox);
  const info: Record<string, string> = {};
  if (req.verbose) {
    const processStatus = state === 'SANDBOX_READY' ? 'running' : rt.tasks.exitInfo(sandbox.id) ? 'exited' : 'unknown';
    info.info = JSON.stringify({
      pid: sandbox.pid,
      processStatus,
      netNamespaceClosed: sandbox.netnsPath === '' || state !== 'SANDBOX_READY',
      netnsPath: sandbox.netnsPath,
      image: sandbox.imageId,
      snapshotKey: sandbox.id,
      runtimeHandler: sandbox.runtimeHandler,
      bundle: rt.tasks.bundleDir(sandbox.id),
      config: sandboxConfig(sandbox),
    });
  }
  return {
    status: toCriSandboxStatus(sandbox, state),
    info,
    containers_statuses: [],
    timestamp: (BigInt(Date.now()) * 1_000_000n).toString(),
  };
}
