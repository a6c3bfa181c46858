import type { SandboxRecord } from '../core/metadata/records.js';
import type { RuntimeServices } from './runtime-services.js';
import { sandboxStateName, type SandboxStateName } from './sandbox-view.js';

/** Marks a ready sandbox not ready (its pause process exited); true when this call made the change. */
export function recordSandboxExit(rt: RuntimeServices, id: string): boolean {
  const sandbox = rt.sandboxes.get(id);
  if (sandbox?.state !== 'ready') return false;
  rt.sandboxes.update(id, (r) => ({ ...r, state: 'notready' }));
  return true;
}

/**
 * The sandbox's record brought up to date: a ready sandbox whose pause
 * process has exited (the exit monitor also knows exits that happened while
 * berthd was down) is recorded not ready. A map lookup, no disk access.
 */
export function refreshSandbox(rt: RuntimeServices, sandbox: SandboxRecord): SandboxRecord {
  if (sandbox.state !== 'ready' || !rt.tasks.exitInfo(sandbox.id)) return sandbox;
  recordSandboxExit(rt, sandbox.id);
  return rt.sandboxes.get(sandbox.id) ?? { ...sandbox, state: 'notready' };
}

/** The state kubelet sees: READY only while the record says ready and the pause process has not exited. */
export function liveSandboxState(rt: RuntimeServices, sandbox: SandboxRecord): SandboxStateName {
  return sandboxStateName(refreshSandbox(rt, sandbox));
}
