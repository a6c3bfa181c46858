/**
 * Waiting for a layer snapshot to be committed, by chain id. A layer's unpack
 * is shared by every pull of it and needs its parent committed first; it waits
 * here rather than on one pull's promise for the parent (that pull may go
 * away while the others still need the layer).
 */
export class SnapshotCommits {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly isCommitted: (chainId: string) => boolean) {}

  /** Resolves once `chainId` is committed; rejects with the signal's reason if it aborts first. */
  committed(chainId: string, signal: AbortSignal): Promise<void> {
    if (this.isCommitted(chainId)) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        const set = this.waiters.get(chainId);
        set?.delete(onCommit);
        if (set?.size === 0) this.waiters.delete(chainId);
        signal.removeEventListener('abort', onAbort);
      };
      const onCommit = (): void => {
        finish();
        resolve();
      };
      const onAbort = (): void => {
        finish();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let set = this.waiters.get(chainId);
      if (!set) this.waiters.set(chainId, (set = new Set()));
      set.add(onCommit);
    });
  }

  /** `chainId` has just been committed. */
  announce(chainId: string): void {
    for (const wake of [...(this.waiters.get(chainId) ?? [])]) wake();
  }
}
