import { removeNetns } from '../cni/netns.js';
import { releasePodShm } from '../core/sandbox/pod-files.js';
import type { StopPodSandboxRequest__Output } from '../gen/cri/runtime/v1/StopPodSandboxRequest.js';
import type { StopPodSandboxResponse } from '../gen/cri/runtime/v1/StopPodSandboxResponse.js';
import { stopContainerNow } from './container-stop.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { findById } from './ids.js';
import { recordSandboxExit } from './sandbox-state.js';
import { allSettledOrThrow } from '../core/util/concurrency.js';
import type { SandboxRecord } from '../core/metadata/records.js';

const PAUSE_EXIT_WAIT_MS = 10_000;

/** Stops every container, the pause process, and the pod's networking. Idempotent. */
export async function stopSandbox(ctx: CriContext, given: SandboxRecord): Promise<void> {
  const rt = ctx.runtime;
  for (const c of rt.containers.all().filter((c) => c.sandboxId === given.id)) {
    await stopContainerNow(ctx, c.id, 0);
  }
  await rt.locks.run(given.id, async () => {
    // Read under the lock: a RunPodSandbox that held it may have recorded the netns since,
    // and a RemovePodSandbox that held it has done everything.
    const sandbox = rt.sandboxes.get(given.id);
    if (!sandbox) return;
    // The namespace is pinned by its mount, not by the pause process: the network goes while the pause does.
    const network = sandbox.netnsPath ? tearDownNetwork(ctx, sandbox.id, sandbox.netnsPath) : Promise.resolve();
    const pause = stopPause(ctx, sandbox);
    await allSettledOrThrow([network, pause]);
    releasePodShm(rt.podRunDir(sandbox.id));
    // The exit reconciler may have announced the pause process's exit already.
    if (recordSandboxExit(rt, sandbox.id)) publishContainerEvent(ctx, ctx.events, sandbox.id, 'CONTAINER_STOPPED_EVENT');
  });
}

async function stopPause(ctx: CriContext, sandbox: SandboxRecord): Promise<void> {
  const { tasks } = ctx.runtime;
  if (tasks.exitInfo(sandbox.id)) return;
  // A live conmon with no exit recorded means a pause to kill; otherwise ask the runtime (a crash may have left it).
  if (!(await tasks.monitorAlive(sandbox.id))) {
    const status = await tasks.status(sandbox.id, sandbox.runtimeHandler);
    if (status === 'unknown' || status === 'stopped') return;
  }
  const killed = await tasks.kill(sandbox.id, sandbox.runtimeHandler, 'SIGKILL', true).then(
    () => true,
    () => false,
  );
  if (!killed) {
    const status = await tasks.status(sandbox.id, sandbox.runtimeHandler);
    if (status === 'unknown' || status === 'stopped') return;
  }
  await tasks.waitExit(sandbox.id, PAUSE_EXIT_WAIT_MS).catch(() => undefined);
}

async function tearDownNetwork(ctx: CriContext, podId: string, netnsPath: string): Promise<void> {
  await ctx.runtime.cni.tearDownPod({ podId, netnsPath });
  await removeNetns(netnsPath);
}

export async function stopPodSandbox(ctx: CriContext, req: StopPodSandboxRequest__Output): Promise<StopPodSandboxResponse> {
  const sandbox = findById(ctx.runtime.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  if (!sandbox) return {};
  await stopSandbox(ctx, sandbox);
  return {};
}
