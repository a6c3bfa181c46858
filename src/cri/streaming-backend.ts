import { forwardIntoNetns } from '../cni/port-forward.js';
import { FailedPreconditionError, UnavailableError } from '../core/errors.js';
import { execStream } from '../core/runtime/exec.js';
import { refreshContainer } from './container-state.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';
import type { StreamingBackend } from './streaming/backend.js';

/** What the streaming server runs: exec through runc, port-forward into the pod's netns. */
export function streamingBackend(ctx: CriContext): StreamingBackend {
  const rt = ctx.runtime;
  return {
    async exec(containerId, cmd, io) {
      const container = refreshContainer(rt, lookupById(rt.containers, containerId, 'container'));
      if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
      const sandbox = rt.sandboxes.get(container.sandboxId);
      const runtime = rt.tasks.runtime(sandbox?.runtimeHandler ?? ctx.config.default_runtime);
      return execStream(runtime, container.id, cmd, io);
    },
    async attach() {
      throw new UnavailableError('attach is not implemented by berth yet');
    },
    async portForward(podSandboxId, port, stream, signal) {
      const sandbox = lookupById(rt.sandboxes, podSandboxId, 'pod sandbox');
      await forwardIntoNetns(sandbox.netnsPath, port, stream, signal);
    },
  };
}
