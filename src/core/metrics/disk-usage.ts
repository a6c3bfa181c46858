import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskUsage {
  /** allocated bytes (st_blocks * 512, as du reports) */
  bytes: number;
  /** distinct inodes, the root directory included */
  inodes: number;
}

function isVanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Bytes and inodes used by a directory tree, such as a container's writable
 * layer. Hard links count once; the walk stays on the root's filesystem (as
 * du -x) and skips entries that vanish while it runs, since the container
 * keeps writing.
 */
export async function measureDiskUsage(root: string): Promise<DiskUsage> {
  const rootStat = await lstat(root, { bigint: true });
  const device = rootStat.dev;
  const seen = new Set<bigint>([rootStat.ino]);
  let bytes = rootStat.blocks * 512n;
  const pending: string[] = rootStat.isDirectory() ? [root] : [];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let handle;
    try {
      handle = await opendir(dir);
    } catch (err) {
      if (isVanished(err)) continue;
      throw err;
    }
    for await (const entry of handle) {
      const path = join(dir, entry.name);
      let st;
      try {
        st = await lstat(path, { bigint: true });
      } catch (err) {
        if (isVanished(err)) continue;
        throw err;
      }
      if (st.dev !== device || seen.has(st.ino)) continue;
      seen.add(st.ino);
      bytes += st.blocks * 512n;
      if (st.isDirectory()) pending.push(path);
    }
  }
  return { bytes: Number(bytes), inodes: seen.size };
}

export interface DiskUsageCacheOptions {
  /** how long a measurement is reused; default 5 s */
  ttlMs?: number;
  nowMs?: () => number;
  /** the measuring function; measureDiskUsage by default */
  measure?: (root: string) => Promise<DiskUsage>;
}

interface CacheEntry {
  at: number;
  usage: Promise<DiskUsage>;
}

/**
 * Reuses a measurement for a short time and shares one walk between
 * concurrent callers, so the kubelet's frequent stats polling stays cheap.
 */
export class DiskUsageCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly nowMs: () => number;
  private readonly measure: (root: string) => Promise<DiskUsage>;

  constructor(options: DiskUsageCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.nowMs = options.nowMs ?? Date.now;
    this.measure = options.measure ?? measureDiskUsage;
  }

  get(root: string): Promise<DiskUsage> {
    const now = this.nowMs();
    for (const [key, entry] of this.entries) {
      if (now - entry.at > this.ttlMs) this.entries.delete(key);
    }
    const cached = this.entries.get(root);
    if (cached !== undefined) return cached.usage;
    const usage = this.measure(root);
    this.entries.set(root, { at: now, usage });
    // A failed walk is not cached: the next call retries.
    usage.catch(() => {
      if (this.entries.get(root)?.usage === usage) this.entries.delete(root);
    });
    return usage;
  }

  invalidate(root: string): void {
    this.entries.delete(root);
  }
}
