import { access } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * conmon creates an empty file named `oom` when the kernel's OOM killer hit the
 * container's memory cgroup (memory.oom_control eventfd on cgroup v1,
 * memory.events on v2). 2.1 releases write it to `--persist-dir`; older ones to
 * their working directory, the bundle. Either counts.
 */
export async function wasOomKilled(persistDir: string, bundle?: string): Promise<boolean> {
  const candidates = [join(persistDir, 'oom')];
  if (bundle !== undefined) candidates.push(join(bundle, 'oom'));
  for (const path of candidates) {
    try {
      await access(path);
      return true;
    } catch {
      // not there: try the next location
    }
  }
  return false;
}
