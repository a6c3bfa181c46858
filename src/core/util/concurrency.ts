/** Runs at most `limit` tasks at a time; each call waits for a free slot. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Joins concurrent callers asking for the same key onto one promise: ten pulls
 * of one image fetch each blob once.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  do(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    const promise = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.inFlight.size;
  }
}

/** A readers/writer lock: many pulls at once, garbage collection alone. */
export class ReadWriteLock {
  private readers = 0;
  private writer = false;
  private readonly queue: { write: boolean; resolve: () => void }[] = [];

  async read<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await task();
    } finally {
      this.readers--;
      this.wake();
    }
  }

  async write<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await task();
    } finally {
      this.writer = false;
      this.wake();
    }
  }

  private acquire(write: boolean): Promise<void> {
    if (this.canEnter(write) && this.queue.length === 0) {
      this.enter(write);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ write, resolve }));
  }

  private canEnter(write: boolean): boolean {
    return write ? !this.writer && this.readers === 0 : !this.writer;
  }

  private enter(write: boolean): void {
    if (write) this.writer = true;
    else this.readers++;
  }

  private wake(): void {
    while (this.queue.length > 0 && this.canEnter(this.queue[0]!.write)) {
      const next = this.queue.shift()!;
      this.enter(next.write);
      next.resolve();
      if (next.write) break;
    }
  }
}

/**
 * Like Promise.all, but waits for every promise to settle before it rejects
 * (with the first failure in argument order): steps that record their own
 * undo are all finished, and so all recorded, before anyone undoes them.
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises as readonly Promise<unknown>[]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
