import type { ExecRequest__Output } from '../gen/cri/runtime/v1/ExecRequest.js';
import type { ExecResponse } from '../gen/cri/runtime/v1/ExecResponse.js';
import { runningContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { validateExecCommand } from './exec-command.js';

/** Exec: a single-use URL on the streaming server (kubectl exec, crictl exec -it). */
export async function exec(ctx: CriContext, req: ExecRequest__Output): Promise<ExecResponse> {
  validateExecCommand(req.cmd);
  const container = runningContainer(ctx.runtime, req.container_id);
  const url = ctx.streaming().getExecUrl({
    containerId: container.id,
    cmd: req.cmd,
    tty: req.tty,
    stdin: req.stdin,
    stdout: req.stdout,
    stderr: req.stderr,
  });
  return { url };
}
