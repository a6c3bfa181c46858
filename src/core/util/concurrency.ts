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

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  /** Callers still waiting; callers that cannot cancel count as waiting until the end. */
  waiters: number;
}

/**
 * Joins concurrent callers asking for the same key onto one promise: ten pulls
 * of one image fetch each blob once. A caller may pass a signal: when it
 * aborts, that caller stops waiting, and once no caller waits any more the
 * work's own signal aborts, so abandoned work (a download nobody wants) stops.
 * A caller arriving after that starts the work afresh, once the abandoned
 * attempt has wound down.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Flight<T>>();
  /** Abandoned work still winding down (it may hold locks the next attempt needs). */
  private readonly draining = new Map<string, Promise<unknown>>();

  do(key: string, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    let flight = this.inFlight.get(key);
    if (!flight) {
      const controller = new AbortController();
      const previous = this.draining.get(key);
      const started = previous ? previous.then(() => work(controller.signal), () => work(controller.signal)) : work(controller.signal);
      const created: Flight<T> = { promise: started, controller, waiters: 0 };
      created.promise = started.finally(() => {
        if (this.inFlight.get(key) === created) this.inFlight.delete(key);
        if (this.draining.get(key) === created.promise) this.draining.delete(key);
      });
      created.promise.catch(() => undefined); // every waiter may have left; they saw the error or their own abort
      this.inFlight.set(key, created);
      flight = created;
    }
    const joined = flight;
    joined.waiters++;
    if (!signal) return joined.promise;
    return new Promise<T>((resolve, reject) => {
      const leave = (): void => {
        reject(signal.reason);
        if (--joined.waiters > 0) return;
        if (this.inFlight.get(key) === joined) {
          this.inFlight.delete(key);
          this.draining.set(key, joined.promise);
        }
        joined.controller.abort(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      joined.promise.then(
        (value) => {
          signal.removeEventListener('abort', leave);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', leave);
          reject(err);
        },
      );
    });
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Resolves once abandoned work for `key` (every waiter left) has wound down; at once if there is none. */
  drained(key: string): Promise<void> {
    const draining = this.draining.get(key);
    return draining ? draining.then(() => undefined, () => undefined) : Promise.resolve();
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
