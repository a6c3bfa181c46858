import type { SandboxRecord } from '../core/metadata/records.js';
import type { RuntimeServices } from './runtime-services.js';

/** Marks a ready sandbox not ready (its pause process exited); true when this call made the change. */
export function recordSandboxExit(rt: RuntimeServices, id: string): boolean {
  const sandbox = rt.sandboxes.get(id);
  if (sandbox?.state !== 'ready') return false;
  rt.sandboxes.update(id, (r) => ({ ...r, state: 'notready' }));
  return true;
}

/**
 * The state kubelet sees: READY only while the record says ready and the
 * pause process has not exited (the exit monitor also knows exits that
 * happened while berthd was down).
 */
export function liveSandboxState(rt: RuntimeServices, sandbox: SandboxRecord): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' {
  if (sandbox.state !== 'ready') return 'SANDBOX_NOTREADY';
  if (!rt.tasks.exitInfo(sandbox.id)) return 'SANDBOX_READY';
  recordSandboxExit(rt, sandbox.id);
  return 'SANDBOX_NOTREADY';
}
