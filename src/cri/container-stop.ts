import { stopSignal } from '../core/runtime/spec/index.js';
import type { StopContainerRequest__Output } from '../gen/cri/runtime/v1/StopContainerRequest.js';
import type { StopContainerResponse } from '../gen/cri/runtime/v1/StopContainerResponse.js';
import { recordContainerExit, refreshContainer } from './container-state.js';
import { containerConfig } from './container-view.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { timeoutSecondsToMs } from './exec-command.js';
import { findById } from './ids.js';

const KILL_WAIT_MS = 30_000;

/**
 * Sends the stop signal (CRI, image, or SIGTERM), waits up to `timeoutMs`,
 * then SIGKILL. A container that is not running is left as it is.
 */
export async function stopContainerNow(ctx: CriContext, id: string, timeoutMs: number): Promise<void> {
  const rt = ctx.runtime;
  await rt.locks.run(id, async () => {
    let container = rt.containers.get(id);
    if (!container) return;
    container = refreshContainer(rt, container);
    if (container.state !== 'running') return;
    const sandbox = rt.sandboxes.get(container.sandboxId);
    const handler = sandbox?.runtimeHandler ?? ctx.config.default_runtime;
    if (timeoutMs > 0) {
      const imageConfig = await ctx.images.config(container.imageId).catch(() => undefined);
      const signal = stopSignal(imageConfig, containerConfig(container)) as NodeJS.Signals;
      await rt.tasks.kill(id, handler, signal).catch(() => undefined);
      if (await exitedWithin(ctx, id, timeoutMs)) return;
    }
    await rt.tasks.kill(id, handler, 'SIGKILL', true).catch(() => undefined);
    await exitedWithin(ctx, id, KILL_WAIT_MS);
  });
}

/** Waits for the exit and records it (announcing it unless the exit reconciler already did). */
async function exitedWithin(ctx: CriContext, id: string, timeoutMs: number): Promise<boolean> {
  const exit = await ctx.runtime.tasks.waitExit(id, timeoutMs).catch(() => undefined);
  if (!exit) return false;
  if (recordContainerExit(ctx.runtime, id, exit)?.transitioned) publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_STOPPED_EVENT');
  return true;
}

export async function stopContainer(ctx: CriContext, req: StopContainerRequest__Output): Promise<StopContainerResponse> {
  // Idempotent (cri-api): an unknown or already removed id is not an error, as in containerd 2.
  const container = findById(ctx.runtime.containers, req.container_id, 'container');
  if (!container) return {};
  await stopContainerNow(ctx, container.id, timeoutSecondsToMs(req.timeout));
  return {};
}

