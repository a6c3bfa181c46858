import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The search path when the environment names none (execvp's default, with the sbin directories). */
export const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in the directories of `searchPath`, or undefined. */
export function findInPath(name: string, searchPath: string = DEFAULT_SEARCH_PATH): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
