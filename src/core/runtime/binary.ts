import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * Absolute path of an executable given by name (searched in PATH) or path.
 * conmon execs the OCI runtime with execv, which does no PATH lookup, so the
 * runtime must be handed over as an absolute path.
 */
export function resolveExecutable(nameOrPath: string, searchPath = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'): string {
  if (nameOrPath.includes('/')) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
    if (!isExecutable(path)) throw new Error(`${path} is not an executable file`);
    return path;
  }
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, nameOrPath);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(`executable ${JSON.stringify(nameOrPath)} not found in PATH (${searchPath}); install it or configure its absolute path`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
