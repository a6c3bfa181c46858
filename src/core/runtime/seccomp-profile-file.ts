import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { Seccomp } from './spec/oci-types.js';
import { parseSeccompProfile } from './spec/seccomp-localhost.js';
import { seccompLocalhostPath, type SeccompContext } from './spec/security.js';

/** Reads the Localhost seccomp profile at `path` (an absolute host path, as the kubelet sends). */
export async function loadSeccompProfile(path: string): Promise<Seccomp> {
  if (!isAbsolute(path)) throw new InvalidArgumentError(`seccomp localhost profile "${path}" must be an absolute path on the host`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read seccomp localhost profile ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseSeccompProfile(text, path);
}

/**
 * The Localhost seccomp profile a pod's or container's security context asks
 * for, read from the host; undefined when it asks for another kind, or when it
 * is privileged (privileged runs without seccomp, so the file is never read, as
 * in containerd).
 */
export async function localhostSeccompProfileFor(sc: (SeccompContext & { privileged?: boolean }) | null): Promise<Seccomp | undefined> {
  if (sc?.privileged) return undefined;
  const path = seccompLocalhostPath(sc);
  return path === undefined ? undefined : loadSeccompProfile(path);
}
