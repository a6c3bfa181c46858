import type { BerthConfig } from '../config/schema.js';
import { resolveExecutable } from '../core/runtime/binary.js';
import type { CniManager } from '../cni/manager.js';
import type { ConditionProbe } from '../cri/context.js';

function canExecute(nameOrPath: string): boolean {
  try {
    resolveExecutable(nameOrPath);
    return true;
  } catch {
    return false;
  }
}

/** RuntimeReady: the default OCI runtime and conmon can be executed. */
export async function probeRuntime(config: BerthConfig): Promise<ConditionProbe> {
  const handler = config.runtimes[config.default_runtime];
  const missing: string[] = [];
  if (!handler || !canExecute(handler.path)) missing.push(`OCI runtime "${handler?.path ?? config.default_runtime}"`);
  if (!canExecute('conmon')) missing.push('conmon');
  if (missing.length > 0) {
    return { ready: false, reason: 'RuntimeBinaryMissing', message: `cannot execute ${missing.join(' and ')}` };
  }
  return { ready: true, reason: '', message: '' };
}

/** NetworkReady: a valid CNI network configuration whose plugins exist (re-read on every call). */
export async function probeNetwork(cni: CniManager): Promise<ConditionProbe> {
  return cni.status();
}
