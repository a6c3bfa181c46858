/**
 * usage_nano_cores from successive cumulative CPU samples, per container id,
 * as the kubelet and containerd compute it:
 * (usage delta in ns) / (time delta in ns) * 1e9.
 */

export interface CpuSample {
  /** nanoseconds since the epoch when the counter was read */
  timestamp: bigint;
  /** cumulative CPU time in nanoseconds */
  usageCoreNanoSeconds: bigint;
}

export interface CpuRateTrackerOptions {
  /** drop an id not sampled for this long; default 10 minutes */
  evictAfterMs?: number;
  /** wall clock in ms, for eviction; injectable for tests */
  nowMs?: () => number;
}

interface Entry {
  sample: CpuSample;
  nanoCores?: number;
  lastSeenMs: number;
}

const DEFAULT_EVICT_AFTER_MS = 10 * 60 * 1000;

export class CpuRateTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly evictAfterMs: number;
  private readonly nowMs: () => number;

  constructor(options: CpuRateTrackerOptions = {}) {
    this.evictAfterMs = options.evictAfterMs ?? DEFAULT_EVICT_AFTER_MS;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /**
   * Records a sample and returns the rate since the previous one, in
   * nano-cores (1e9 = one full core). Undefined for the first sample of an
   * id. A sample no newer than the cached one (two callers polling at once)
   * returns the last rate without replacing the cache; a counter that went
   * backwards (cgroup recreated) restarts the series.
   */
  update(id: string, sample: CpuSample): number | undefined {
    const now = this.nowMs();
    this.evictStale(now);
    const previous = this.entries.get(id);
    if (previous === undefined) {
      this.entries.set(id, { sample, lastSeenMs: now });
      return undefined;
    }
    previous.lastSeenMs = now;
    const dt = sample.timestamp - previous.sample.timestamp;
    if (dt <= 0n) return previous.nanoCores;
    const du = sample.usageCoreNanoSeconds - previous.sample.usageCoreNanoSeconds;
    if (du < 0n) {
      this.entries.set(id, { sample, lastSeenMs: now });
      return undefined;
    }
    const nanoCores = Math.round((Number(du) / Number(dt)) * 1e9);
    this.entries.set(id, { sample, nanoCores, lastSeenMs: now });
    return nanoCores;
  }

  /** The last computed rate of an id, without sampling. */
  last(id: string): number | undefined {
    return this.entries.get(id)?.nanoCores;
  }

  /** Forget an id (its container was removed). */
  forget(id: string): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private evictStale(now: number): void {
    for (const [id, entry] of this.entries) {
      if (now - entry.lastSeenMs > this.evictAfterMs) this.entries.delete(id);
    }
  }
}
