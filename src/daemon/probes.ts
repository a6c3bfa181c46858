import { readdir } from 'node:fs/promises';
import type { BerthConfig } from '../config/schema.js';
import { findExecutable } from '../core/util/which.js';
import type { ConditionProbe } from '../cri/context.js';

/** RuntimeReady: the default OCI runtime and conmon can be executed. */
export async function probeRuntime(config: BerthConfig): Promise<ConditionProbe> {
  const handler = config.runtimes[config.default_runtime];
  const missing: string[] = [];
  if (!handler || !findExecutable(handler.path)) missing.push(`OCI runtime "${handler?.path ?? config.default_runtime}"`);
  if (!findExecutable('conmon')) missing.push('conmon');
  if (missing.length > 0) {
    return { ready: false, reason: 'RuntimeBinaryMissing', message: `cannot execute ${missing.join(' and ')}` };
  }
  return { ready: true, reason: '', message: '' };
}

/**
 * NetworkReady: a CNI network configuration exists in conf_dir (containerd's
 * reason and message when it does not, which operators already search for).
 */
export async function probeNetwork(config: BerthConfig): Promise<ConditionProbe> {
  let names: string[] = [];
  try {
    names = await readdir(config.cni.conf_dir);
  } catch {
    names = [];
  }
  if (!names.some((name) => /\.(conflist|conf|json)$/.test(name))) {
    return {
      ready: false,
      reason: 'NetworkPluginNotReady',
      message: `Network plugin returns error: cni plugin not initialized (no network config in ${config.cni.conf_dir})`,
    };
  }
  return { ready: true, reason: '', message: '' };
}
