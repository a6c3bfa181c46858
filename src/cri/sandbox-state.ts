import type { SandboxRecord } from '../core/metadata/records.js';
import type { RuntimeServices } from './runtime-services.js';

/**
 * The state kubelet sees: READY only while the record says ready and the
 * pause process has not exited (its exit file is written by conmon even
 * while berthd is down).
 */
export async function liveSandboxState(rt: RuntimeServices, sandbox: SandboxRecord): Promise<'SANDBOX_READY' | 'SANDBOX_NOTREADY'> {
  if (sandbox.state !== 'ready') return 'SANDBOX_NOTREADY';
  const exit = await rt.tasks.exitInfo(sandbox.id);
  if (!exit) return 'SANDBOX_READY';
  rt.sandboxes.update(sandbox.id, (r) => ({ ...r, state: 'notready' }));
  return 'SANDBOX_NOTREADY';
}
