import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { DeadlineExceededError } from '../errors.js';
import { readExitFile, type ExitInfo } from './exit-file.js';

/** An exit as the monitor hands it out: conmon's record plus whether the OOM killer did it. */
export interface ObservedExit extends ExitInfo {
  oomKilled: boolean;
}

export type ExitListener = (id: string, exit: ObservedExit) => void;

export interface ExitMonitorOptions {
  /** conmon's `--exit-dir`. */
  exitDir: string;
  /** Whether the container's exit was an OOM kill (asked once per exit). */
  oomKilled(id: string): Promise<boolean>;
  /** Interval of the rescan that covers inotify events the kernel dropped (default 3 s). */
  rescanMs?: number;
  /** Reads one exit file (default: conmon's format through readExitFile); undefined when absent. */
  readExit?(exitDir: string, id: string): Promise<ExitInfo | undefined>;
  /** Where read errors of single exit files go (they are retried on the next rescan). */
  onError?(id: string, err: Error): void;
}

// conmon writes exit files with g_file_set_contents: a temporary `<id>.XXXXXX` renamed onto `<id>`.
const isTemporaryName = (name: string): boolean => name.includes('.');

/**
 * Keeps every container's exit in memory: one inotify watch on conmon's exit
 * directory (plus a slow rescan), instead of a stat and a read per container
 * on every List or Status call. Exits that happened while berthd was down are
 * found by the scan in start(), so listeners see each exit exactly once per
 * daemon life, in the tick it is recorded.
 */
export class ExitMonitor {
  private readonly exits = new Map<string, ObservedExit>();
  private readonly reading = new Map<string, Promise<void>>();
  private readonly listeners = new Set<ExitListener>();
  private readonly waiters = new Map<string, Set<(exit: ObservedExit) => void>>();
  private readonly forgotten = new Set<string>();
  /** Ids whose file changed while a read of it was in flight: that read may have looked too early. */
  private readonly changedDuringRead = new Set<string>();
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ExitMonitorOptions) {}

  /** Scans the exit directory (listeners already subscribed hear every exit found) and starts watching it. */
  async start(): Promise<void> {
    await mkdir(this.options.exitDir, { recursive: true });
    this.watcher = watch(this.options.exitDir, { persistent: false }, (_event, filename) => {
      if (filename === null) void this.rescan();
      else void this.observe(filename.toString());
    });
    this.watcher.on('error', (err) => this.options.onError?.('', err));
    await this.rescan();
    this.rescanTimer = setInterval(() => void this.rescan(), this.options.rescanMs ?? 3000);
    this.rescanTimer.unref();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.rescanTimer) clearInterval(this.rescanTimer);
  }

  /** The recorded exit of `id`, or undefined while it runs (or never ran). */
  get(id: string): ObservedExit | undefined {
    return this.exits.get(id);
  }

  /** Calls `listener` for every exit recorded from now on; returns the unsubscribe function. */
  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the exit of `id` once recorded; rejects with DeadlineExceededError after `timeoutMs`. */
  waitFor(id: string, timeoutMs: number): Promise<ObservedExit> {
    const known = this.exits.get(id);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      let waiters = this.waiters.get(id);
      if (!waiters) this.waiters.set(id, (waiters = new Set()));
      const onExit = (exit: ObservedExit): void => {
        clearTimeout(timer);
        resolve(exit);
      };
      const timer = setTimeout(() => {
        waiters.delete(onExit);
        if (waiters.size === 0) this.waiters.delete(id);
        reject(new DeadlineExceededError(`container ${id} did not exit within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(onExit);
      // The file may already be there with its watch event still queued.
      void this.observe(id);
    });
  }

  /** Drops what is known of `id` (its exit file is being removed with the container). */
  forget(id: string): void {
    this.exits.delete(id);
    // A read in flight must not record the exit again once it completes.
    if (this.reading.has(id)) this.forgotten.add(id);
  }

  /** Reads the exit file of `id` if it exists and is not yet recorded. */
  private observe(id: string): Promise<void> {
    if (this.closed || isTemporaryName(id) || this.exits.has(id)) return Promise.resolve();
    const inFlight = this.reading.get(id);
    if (inFlight) {
      // A waiter's read can find no file yet while conmon renames it in place; the
      // watch event for that rename must read again, not share the early read.
      this.changedDuringRead.add(id);
      return inFlight;
    }
    const reading = this.read(id).finally(() => {
      this.reading.delete(id);
      const forgotten = this.forgotten.delete(id);
      if (this.changedDuringRead.delete(id) && !forgotten) return this.observe(id);
      return undefined;
    });
    this.reading.set(id, reading);
    return reading;
  }

  private async read(id: string): Promise<void> {
    let exit: ExitInfo | undefined;
    let oomKilled = false;
    try {
      exit = await (this.options.readExit ?? readExitFile)(this.options.exitDir, id);
      if (!exit) return;
      oomKilled = await this.options.oomKilled(id).catch(() => false);
    } catch (err) {
      this.options.onError?.(id, err as Error);
      return;
    }
    // Removed while we read: the container is gone, its exit is nobody's concern.
    if (this.closed || this.forgotten.has(id) || this.exits.has(id)) return;
    const observed: ObservedExit = { ...exit, oomKilled };
    this.exits.set(id, observed);
    for (const listener of this.listeners) {
      try {
        listener(id, observed);
      } catch (err) {
        this.options.onError?.(id, err as Error);
      }
    }
    const waiters = this.waiters.get(id);
    this.waiters.delete(id);
    for (const wake of waiters ?? []) wake(observed);
  }

  private async rescan(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.options.exitDir);
    } catch (err) {
      this.options.onError?.('', err as Error);
      return;
    }
    // start() resolves only once the exits found are recorded.
    await Promise.all(names.map((name) => this.observe(name)));
  }
}
