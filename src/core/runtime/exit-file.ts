import { watch, type FSWatcher } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadlineExceededError } from '../errors.js';

export interface ExitInfo {
  /**
   * The container's exit status as conmon records it: the process's exit code,
   * 128 + signal number when a signal killed it, -1 when conmon's own timeout fired.
   */
  exitCode: number;
  /** When conmon wrote the file (its mtime): the moment the container was seen to exit. */
  finishedAt: Date;
}

/** Path of the exit file conmon writes for container `id` under `--exit-dir`. */
export function exitFilePath(exitDir: string, id: string): string {
  return join(exitDir, id);
}

/** The recorded exit of container `id`, or undefined while it has not exited. */
export async function readExitFile(exitDir: string, id: string): Promise<ExitInfo | undefined> {
  const path = exitFilePath(exitDir, id);
  let text: string;
  let mtime: Date;
  try {
    // conmon writes it with g_file_set_contents (temp file + rename), so it is never half-written.
    [text, { mtime }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const exitCode = Number.parseInt(text.trim(), 10);
  if (Number.isNaN(exitCode)) throw new Error(`exit file ${path} does not hold a number: ${JSON.stringify(text.slice(0, 50))}`);
  return { exitCode, finishedAt: mtime };
}

/**
 * Records an exit status for container `id` the way conmon does (temp file +
 * rename), for a container whose conmon is gone and so will never write it.
 */
export async function writeExitFile(exitDir: string, id: string, exitCode: number): Promise<void> {
  const path = exitFilePath(exitDir, id);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, String(exitCode), { flush: true });
  await rename(tmp, path);
}

export interface WaitForExitOptions {
  /** Give up after this many milliseconds (default: wait forever). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Interval of the fallback poll that covers missed watch events (default 500 ms). */
  pollMs?: number;
}

/**
 * Resolves once conmon has written the exit file of container `id`. Watches
 * `exitDir` and also polls, since inotify can miss events (or the directory
 * can be replaced). Rejects with DeadlineExceededError on timeout.
 */
export function waitForExit(exitDir: string, id: string, options: WaitForExitOptions | number = {}): Promise<ExitInfo> {
  const opts: WaitForExitOptions = typeof options === 'number' ? { timeoutMs: options } : options;
  return new Promise((resolve, reject) => {
    let settled = false;
    let watcher: FSWatcher | undefined;
    let checking = false;
    const cleanups: Array<() => void> = [];
    const finish = (err: Error | undefined, info?: ExitInfo): void => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      if (err) reject(err);
      else resolve(info as ExitInfo);
    };
    const check = (): void => {
      if (settled || checking) return;
      checking = true;
      readExitFile(exitDir, id).then(
        (info) => {
          checking = false;
          if (info) finish(undefined, info);
        },
        (err: Error) => {
          checking = false;
          finish(err);
        },
      );
    };

    try {
      watcher = watch(exitDir, { persistent: false }, (_event, filename) => {
        if (filename === null || filename.toString() === id) check();
      });
      watcher.on('error', () => undefined);
      cleanups.push(() => watcher?.close());
    } catch {
      // The directory may not exist yet; polling still finds the file once it appears.
    }
    const poll = setInterval(check, opts.pollMs ?? 500);
    cleanups.push(() => clearInterval(poll));
    if (opts.timeoutMs !== undefined) {
      const timer = setTimeout(
        () => finish(new DeadlineExceededError(`container ${id} did not exit within ${opts.timeoutMs} ms (no exit file in ${exitDir})`)),
        opts.timeoutMs,
      );
      cleanups.push(() => clearTimeout(timer));
    }
    if (opts.signal) {
      const signal = opts.signal;
      if (signal.aborted) {
        finish(new Error(`waiting for container ${id} to exit was aborted`, { cause: signal.reason }));
        return;
      }
      const onAbort = (): void => finish(new Error(`waiting for container ${id} to exit was aborted`, { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', onAbort));
    }
    check();
  });
}
