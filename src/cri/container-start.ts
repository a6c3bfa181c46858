import { FailedPreconditionError } from '../core/errors.js';
import type { StartContainerRequest__Output } from '../gen/cri/runtime/v1/StartContainerRequest.js';
import type { StartContainerResponse } from '../gen/cri/runtime/v1/StartContainerResponse.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { lookupById, nowNanos } from './ids.js';

export async function startContainer(ctx: CriContext, req: StartContainerRequest__Output): Promise<StartContainerResponse> {
  const rt = ctx.runtime;
  const container = lookupById(rt.containers, req.container_id, 'container');
  await rt.locks.run(container.id, async () => {
    const current = rt.containers.get(container.id);
    if (!current) throw new FailedPreconditionError(`container ${container.id} was removed`);
    if (current.state !== 'created') throw new FailedPreconditionError(`container ${container.id} is ${current.state}, not created`);
    const sandbox = rt.sandboxes.get(current.sandboxId);
    if (!sandbox) throw new FailedPreconditionError(`container ${container.id} has no pod sandbox`);
    const startedAt = nowNanos();
    try {
      await rt.tasks.start(current.id, sandbox.runtimeHandler);
    } catch (err) {
      rt.containers.update(current.id, (r) => ({
        ...r,
        state: 'exited',
        exitCode: 128,
        finishedAt: nowNanos(),
        reason: 'StartError',
        message: (err as Error).message,
      }));
      throw err;
    }
    // A crash of berthd during CreateContainer can leave the pid unrecorded: the runtime knows it.
    let pid = current.pid;
    if (pid <= 0) pid = (await rt.tasks.runtime(sandbox.runtimeHandler).state(current.id).catch(() => undefined))?.pid ?? 0;
    // A fast container may already have exited (and been refreshed): keep what it recorded.
    rt.containers.update(current.id, (r) => (r.state === 'created' ? { ...r, pid, state: 'running', startedAt } : { ...r, pid, startedAt }));
    publishContainerEvent(ctx, ctx.events, current.id, 'CONTAINER_STARTED_EVENT');
  });
  return {};
}
