import { FailedPreconditionError, InvalidArgumentError } from '../core/errors.js';
import { execSync as runcExecSync } from '../core/runtime/exec.js';
import type { ExecSyncRequest__Output } from '../gen/cri/runtime/v1/ExecSyncRequest.js';
import type { ExecSyncResponse } from '../gen/cri/runtime/v1/ExecSyncResponse.js';
import { refreshContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';

/** ExecSync: kubelet's exec probes and `crictl exec -s`. */
export async function execSync(ctx: CriContext, req: ExecSyncRequest__Output): Promise<ExecSyncResponse> {
  const rt = ctx.runtime;
  if (req.cmd.length === 0) throw new InvalidArgumentError('cmd must not be empty');
  const container = refreshContainer(rt, lookupById(rt.containers, req.container_id, 'container'));
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  const sandbox = rt.sandboxes.get(container.sandboxId);
  const runtime = rt.tasks.runtime(sandbox?.runtimeHandler ?? ctx.config.default_runtime);
  const result = await runcExecSync(runtime, container.id, req.cmd, Number(req.timeout) * 1000, rt.tasks.bundleDir(container.id));
  return { stdout: result.stdout, stderr: result.stderr, exit_code: result.exitCode };
}
