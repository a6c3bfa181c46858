import { execSync as runcExecSync } from '../core/runtime/exec.js';
import type { ExecSyncRequest__Output } from '../gen/cri/runtime/v1/ExecSyncRequest.js';
import type { ExecSyncResponse } from '../gen/cri/runtime/v1/ExecSyncResponse.js';
import { runningContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { timeoutSecondsToMs, validateExecCommand } from './exec-command.js';

/** ExecSync: kubelet's exec probes and `crictl exec -s`. */
export async function execSync(ctx: CriContext, req: ExecSyncRequest__Output): Promise<ExecSyncResponse> {
  const rt = ctx.runtime;
  validateExecCommand(req.cmd);
  const container = runningContainer(rt, req.container_id);
  const sandbox = rt.sandboxes.get(container.sandboxId);
  const runtime = rt.tasks.runtime(sandbox?.runtimeHandler ?? ctx.config.default_runtime);
  const result = await runcExecSync(runtime, container.id, req.cmd, timeoutSecondsToMs(req.timeout), rt.tasks.bundleDir(container.id));
  return { stdout: result.stdout, stderr: result.stderr, exit_code: result.exitCode };
}
