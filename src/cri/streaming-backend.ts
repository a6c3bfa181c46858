import { forwardIntoNetns } from '../cni/port-forward.js';
import { attachContainer } from '../core/runtime/attach.js';
import { execStream } from '../core/runtime/exec.js';
import { runningContainer } from './container-state.js';
import { containerConfig } from './container-view.js';
import type { CriContext } from './context.js';
import { lookupById } from './ids.js';
import type { StreamingBackend } from './streaming/backend.js';

/** What the streaming server runs: exec through runc, attach through conmon, port-forward into the pod's netns. */
export function streamingBackend(ctx: CriContext): StreamingBackend {
  const rt = ctx.runtime;
  return {
    async exec(containerId, cmd, io) {
      const container = runningContainer(rt, containerId);
      const sandbox = rt.sandboxes.get(container.sandboxId);
      const runtime = rt.tasks.runtime(sandbox?.runtimeHandler ?? ctx.config.default_runtime);
      return execStream(runtime, container.id, cmd, io, rt.tasks.bundleDir(container.id));
    },
    async attach(containerId, io) {
      const container = runningContainer(rt, containerId);
      const config = containerConfig(container);
      await attachContainer(
        {
          id: container.id,
          socketPath: rt.tasks.attachSocketPath(container.id),
          controlPath: rt.tasks.controlPath(container.id),
          tty: config.tty === true,
          stdin: config.stdin === true,
          stdinOnce: config.stdin_once === true,
        },
        { ...io, warn: (message) => ctx.logger.warn(message, { container: container.id }) },
      );
    },
    async portForward(podSandboxId, port, stream, signal) {
      const sandbox = lookupById(rt.sandboxes, podSandboxId, 'pod sandbox');
      await forwardIntoNetns(sandbox.netnsPath, port, stream, signal);
    },
  };
}
