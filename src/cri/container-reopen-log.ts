import type { ReopenContainerLogRequest__Output } from '../gen/cri/runtime/v1/ReopenContainerLogRequest.js';
import type { ReopenContainerLogResponse } from '../gen/cri/runtime/v1/ReopenContainerLogResponse.js';
import { runningContainer } from './container-state.js';
import type { CriContext } from './context.js';

/** kubelet rotated the log file: conmon reopens its log path (a new file appears). */
export async function reopenContainerLog(ctx: CriContext, req: ReopenContainerLogRequest__Output): Promise<ReopenContainerLogResponse> {
  const rt = ctx.runtime;
  const container = runningContainer(rt, req.container_id);
  await rt.tasks.reopenLog(container.id, container.logPath || undefined);
  return {};
}
