import { removeNetns } from '../cni/netns.js';
import { releasePodShm } from '../core/sandbox/pod-files.js';
import type { StopPodSandboxRequest__Output } from '../gen/cri/runtime/v1/StopPodSandboxRequest.js';
import type { StopPodSandboxResponse } from '../gen/cri/runtime/v1/StopPodSandboxResponse.js';
import { stopContainerNow } from './container-stop.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { findById } from './ids.js';
import { recordSandboxExit } from './sandbox-state.js';
import type { SandboxRecord } from '../core/metadata/records.js';

const PAUSE_EXIT_WAIT_MS = 10_000;

/** Stops every container, the pause process, and the pod's networking. Idempotent. */
export async function stopSandbox(ctx: CriContext, sandbox: SandboxRecord): Promise<void> {
  const rt = ctx.runtime;
  for (const c of rt.containers.all().filter((c) => c.sandboxId === sandbox.id)) {
    await stopContainerNow(ctx, c.id, 0);
  }
  await rt.locks.run(sandbox.id, async () => {
    if (!rt.tasks.exitInfo(sandbox.id)) {
      const status = await rt.tasks.status(sandbox.id, sandbox.runtimeHandler);
      if (status !== 'unknown' && status !== 'stopped') {
        await rt.tasks.kill(sandbox.id, sandbox.runtimeHandler, 'SIGKILL', true).catch(() => undefined);
        await rt.tasks.waitExit(sandbox.id, PAUSE_EXIT_WAIT_MS).catch(() => undefined);
      }
    }
    if (sandbox.netnsPath) {
      await rt.cni.tearDownPod({ podId: sandbox.id, netnsPath: sandbox.netnsPath });
      await removeNetns(sandbox.netnsPath);
    }
    releasePodShm(rt.podRunDir(sandbox.id));
    // The exit reconciler may have announced the pause process's exit already.
    if (recordSandboxExit(rt, sandbox.id)) publishContainerEvent(ctx, ctx.events, sandbox.id, 'CONTAINER_STOPPED_EVENT');
  });
}

export async function stopPodSandbox(ctx: CriContext, req: StopPodSandboxRequest__Output): Promise<StopPodSandboxResponse> {
  const sandbox = findById(ctx.runtime.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  if (!sandbox) return {};
  await stopSandbox(ctx, sandbox);
  return {};
}
