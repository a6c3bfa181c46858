import { FailedPreconditionError } from '../core/errors.js';
import type { ReopenContainerLogRequest__Output } from '../gen/cri/runtime/v1/ReopenContainerLogRequest.js';
import type { ReopenContainerLogResponse } from '../gen/cri/runtime/v1/ReopenContainerLogResponse.js';
import { refreshContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';

/** kubelet rotated the log file: conmon reopens its log path (a new file appears). */
export async function reopenContainerLog(ctx: CriContext, req: ReopenContainerLogRequest__Output): Promise<ReopenContainerLogResponse> {
  const rt = ctx.runtime;
  const container = refreshContainer(rt, lookupById(rt.containers, req.container_id, 'container'));
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  await rt.tasks.reopenLog(container.id, container.logPath || undefined);
  return {};
}
