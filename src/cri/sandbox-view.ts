import type { SandboxRecord } from '../core/metadata/records.js';
import type { PodSandbox } from '../gen/cri/runtime/v1/PodSandbox.js';
import type { PodSandboxConfig__Output } from '../gen/cri/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxStatus } from '../gen/cri/runtime/v1/PodSandboxStatus.js';

export type SandboxStateName = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

/** The CRI state of a sandbox as its record says (see refreshSandbox for the live one). */
export function sandboxStateName(sandbox: SandboxRecord): SandboxStateName {
  return sandbox.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';
}

export function sandboxConfig(sandbox: SandboxRecord): PodSandboxConfig__Output {
  return sandbox.config as PodSandboxConfig__Output;
}

export function toCriSandbox(sandbox: SandboxRecord, state: SandboxStateName): PodSandbox {
  const config = sandboxConfig(sandbox);
  return {
    id: sandbox.id,
    metadata: config.metadata,
    state,
    created_at: sandbox.createdAt.toString(),
    labels: config.labels,
    annotations: config.annotations,
    runtime_handler: sandbox.runtimeHandler,
  };
}

export function toCriSandboxStatus(sandbox: SandboxRecord, state: SandboxStateName): PodSandboxStatus {
  const config = sandboxConfig(sandbox);
  const ns = config.linux?.security_context?.namespace_options;
  const [ip = '', ...additional] = sandbox.ips;
  return {
    ...toCriSandbox(sandbox, state),
    network: { ip, additional_ips: additional.map((a) => ({ ip: a })) },
    linux: {
      namespaces: {
        options: {
          network: ns?.network ?? 'POD',
          pid: ns?.pid ?? 'POD',
          ipc: ns?.ipc ?? 'POD',
          target_id: ns?.target_id ?? '',
        },
      },
    },
  };
}
