import { removePodFiles } from '../core/sandbox/pod-files.js';
import type { RemovePodSandboxRequest__Output } from '../gen/cri/runtime/v1/RemovePodSandboxRequest.js';
import type { RemovePodSandboxResponse } from '../gen/cri/runtime/v1/RemovePodSandboxResponse.js';
import { removeContainerNow } from './container-remove.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { findById } from './ids.js';
import { stopSandbox } from './sandbox-stop.js';
import { allSettledOrThrow } from '../core/util/concurrency.js';

/** Stops the pod if needed and removes everything it owned. Unknown ids succeed. */
export async function removePodSandbox(ctx: CriContext, req: RemovePodSandboxRequest__Output): Promise<RemovePodSandboxResponse> {
  const rt = ctx.runtime;
  const sandbox = findById(rt.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  if (!sandbox) return {};
  await stopSandbox(ctx, sandbox);
  for (const c of rt.containers.all().filter((c) => c.sandboxId === sandbox.id)) {
    await removeContainerNow(ctx, c.id);
  }
  await rt.locks.run(sandbox.id, async () => {
    const pauseGone = (async () => {
      await rt.tasks.delete(sandbox.id, sandbox.runtimeHandler);
      if (rt.snapshots.stat(sandbox.id)) await rt.snapshots.remove(sandbox.id);
    })();
    await allSettledOrThrow([pauseGone, removePodFiles(rt.podDir(sandbox.id), rt.podRunDir(sandbox.id))]);
    rt.sandboxes.delete(sandbox.id);
    ctx.stats.forget(sandbox.id);
    publishContainerEvent(ctx, ctx.events, sandbox.id, 'CONTAINER_DELETED_EVENT');
  });
  ctx.logger.info('pod sandbox removed', { id: sandbox.id, name: sandbox.name });
  return {};
}
