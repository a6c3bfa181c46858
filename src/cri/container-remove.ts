import { rm } from 'node:fs/promises';
import type { RemoveContainerRequest__Output } from '../gen/cri/runtime/v1/RemoveContainerRequest.js';
import type { RemoveContainerResponse } from '../gen/cri/runtime/v1/RemoveContainerResponse.js';
import { stopContainerNow } from './container-stop.js';
import type { CriContext } from './context.js';
import { containerConfig } from './container-view.js';
import { publishContainerEvent } from './event-publisher.js';
import { findById } from './ids.js';
import { imageMountViewKeys, isImageMount, releaseImageMounts } from './image-mounts.js';

/** Kills the container if it runs, then removes it, its writable layer, its volumes and image mounts, and its record. */
export async function removeContainerNow(ctx: CriContext, id: string): Promise<void> {
  const rt = ctx.runtime;
  await stopContainerNow(ctx, id, 0);
  await rt.locks.run(id, async () => {
    const container = rt.containers.get(id);
    if (!container) return;
    const sandbox = rt.sandboxes.get(container.sandboxId);
    await rt.tasks.delete(id, sandbox?.runtimeHandler ?? ctx.config.default_runtime);
    if (rt.snapshots.stat(id)) await rt.snapshots.remove(id);
    // Files before the record: a kill in between leaves a record whose removal is retried.
    const mounts = containerConfig(container).mounts ?? [];
    await releaseImageMounts(rt, id, imageMountViewKeys(id, mounts));
    await rm(rt.containerDir(id), { recursive: true, force: true });
    rt.containers.delete(id);
    ctx.stats.forget(id);
    publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_DELETED_EVENT', container.sandboxId);
    // Layers of an image removed while this container used it were kept for it; now they may go.
    if (!ctx.images.find(container.imageId) || mounts.some(isImageMount)) collectInBackground(ctx);
  });
}

function collectInBackground(ctx: CriContext): void {
  ctx.images.collect().catch((err: unknown) => ctx.logger.warn('garbage collection after RemoveContainer', { error: (err as Error).message }));
}

/** Unknown ids succeed: kubelet retries removals. The log file stays (kubelet owns it). */
export async function removeContainer(ctx: CriContext, req: RemoveContainerRequest__Output): Promise<RemoveContainerResponse> {
  const container = findById(ctx.runtime.containers, req.container_id, 'container');
  if (container) await removeContainerNow(ctx, container.id);
  return {};
}
