/**
 * What an OCI runtime handler can do, as the CRI Status reports it per handler:
 * recursive read-only mounts need the runtime to know the `rro` mount option
 * (`<runtime> features`, runc >= 1.1) and the kernel to have mount_setattr (5.12).
 */
import { release } from 'node:os';
import { runCommand } from './command.js';

export interface HandlerFeatures {
  recursiveReadOnlyMounts: boolean;
}

/** The mount options a `<runtime> features` JSON lists; empty when it lists none or is not JSON. */
export function featureMountOptions(stdout: string): string[] {
  try {
    const parsed = JSON.parse(stdout) as { mountOptions?: unknown };
    return Array.isArray(parsed.mountOptions) ? parsed.mountOptions.filter((o): o is string => typeof o === 'string') : [];
  } catch {
    return [];
  }
}

/** Whether a kernel release string ("6.1.0-18-amd64") is at least major.minor. */
export function kernelAtLeast(kernelRelease: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

/** Asks the runtime binary once; a runtime without a `features` command supports nothing optional. */
export async function probeHandlerFeatures(runtimePath: string, kernelRelease = release()): Promise<HandlerFeatures> {
  const result = await runCommand(runtimePath, ['features'], { timeoutMs: 10_000 }).catch(() => undefined);
  const options = result?.exitCode === 0 ? featureMountOptions(result.stdout) : [];
  return { recursiveReadOnlyMounts: options.includes('rro') && kernelAtLeast(kernelRelease, 5, 12) };
}
