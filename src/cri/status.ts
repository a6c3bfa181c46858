import { redactRegistryConfigs } from '../config/registry-auth.js';
import type { StatusRequest__Output } from '../gen/cri/runtime/v1/StatusRequest.js';
import type { RuntimeHandler } from '../gen/cri/runtime/v1/RuntimeHandler.js';
import type { StatusResponse } from '../gen/cri/runtime/v1/StatusResponse.js';
import type { CriContext } from './context.js';

/** Each handler with its features; the default one is also listed under the empty name, as kubelet asks for it. */
async function runtimeHandlers(ctx: CriContext): Promise<RuntimeHandler[]> {
  const names = ['', ...Object.keys(ctx.config.runtimes)];
  return Promise.all(
    names.map(async (name) => {
      const features = await ctx.runtime.tasks.handlerFeatures(name || ctx.config.default_runtime).catch(() => ({ recursiveReadOnlyMounts: false }));
      return { name, features: { recursive_read_only_mounts: features.recursiveReadOnlyMounts, user_namespaces: false } };
    }),
  );
}

/**
 * RuntimeReady and NetworkReady, each probed now (never cached), as kubelet
 * polls them to decide whether the node is Ready. Verbose adds the effective
 * configuration, as `crictl info` shows it.
 */
export async function status(ctx: CriContext, req: StatusRequest__Output): Promise<StatusResponse> {
  const [runtime, network] = await Promise.all([ctx.probeRuntime(), ctx.probeNetwork()]);
  const info: Record<string, string> = {};
  if (req.verbose) {
    const registry = { ...ctx.config.registry, configs: redactRegistryConfigs(ctx.config.registry.configs) };
    info.config = JSON.stringify({ ...ctx.config, registry, cgroupDriver: ctx.cgroupDriver, podCIDR: ctx.network.podCidr });
    info.lastCNILoadStatus = network.ready ? 'OK' : network.message;
  }
  return {
    status: {
      conditions: [
        { type: 'RuntimeReady', status: runtime.ready, reason: runtime.reason, message: runtime.message },
        { type: 'NetworkReady', status: network.ready, reason: network.reason, message: network.message },
      ],
    },
    info,
    runtime_handlers: await runtimeHandlers(ctx),
    // Strict and Merge are both applied when the user is resolved; ContainerStatus reports the result.
    features: { supplemental_groups_policy: true },
  };
}
