import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_SEARCH_PATH, findInPath, isExecutable } from '../sys/executable.js';

/**
 * Absolute path of an executable given by name (searched in PATH) or path.
 * conmon execs the OCI runtime with execv, which does no PATH lookup, so the
 * runtime must be handed over as an absolute path.
 */
export function resolveExecutable(nameOrPath: string, searchPath = process.env.PATH ?? DEFAULT_SEARCH_PATH): string {
  if (nameOrPath.includes('/')) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
    if (!isExecutable(path)) throw new Error(`${path} is not an executable file`);
    return path;
  }
  const found = findInPath(nameOrPath, searchPath);
  if (found === undefined) {
    throw new Error(`executable ${JSON.stringify(nameOrPath)} not found in PATH (${searchPath}); install it or configure its absolute path`);
  }
  return found;
}
