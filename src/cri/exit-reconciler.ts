import type { CriContext } from './context.js';
import { recordContainerExit } from './container-state.js';
import { publishContainerEvent } from './event-publisher.js';
import { recordSandboxExit } from './sandbox-state.js';

/**
 * Applies every exit the exit monitor observes to the records as it happens
 * (containers that end on their own, pause processes that die) and announces
 * it once with CONTAINER_STOPPED_EVENT. Subscribe before the monitor starts,
 * so exits that happened while berthd was down are applied too.
 */
export function reconcileExits(ctx: CriContext): () => void {
  const rt = ctx.runtime;
  return rt.tasks.exits.onExit((id, exit) => {
    if (rt.containers.get(id)) {
      if (recordContainerExit(rt, id, exit)?.transitioned) {
        ctx.logger.debug('container exited', { id, exitCode: exit.exitCode, oomKilled: exit.oomKilled });
        publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_STOPPED_EVENT');
      }
    } else if (rt.sandboxes.get(id)) {
      if (recordSandboxExit(rt, id)) {
        ctx.logger.debug('pod sandbox process exited', { id, exitCode: exit.exitCode });
        publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_STOPPED_EVENT');
      }
    }
  });
}
