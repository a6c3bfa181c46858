import type { AttachRequest__Output } from '../gen/cri/runtime/v1/AttachRequest.js';
import type { AttachResponse } from '../gen/cri/runtime/v1/AttachResponse.js';
import { runningContainer } from './container-state.js';
import type { CriContext } from './context.js';

/** Attach: a single-use URL on the streaming server connecting to the container's main process (kubectl attach). */
export async function attach(ctx: CriContext, req: AttachRequest__Output): Promise<AttachResponse> {
  const container = runningContainer(ctx.runtime, req.container_id);
  const url = ctx.streaming().getAttachUrl({
    containerId: container.id,
    tty: req.tty,
    stdin: req.stdin,
    stdout: req.stdout,
    stderr: req.stderr,
  });
  return { url };
}
