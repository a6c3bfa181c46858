import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../content/fs-util.js';
import { join } from 'node:path';

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
  // The temporary name has a dot in it, as conmon's do: the exit monitor skips it.
  await writeFileAtomic(exitFilePath(exitDir, id), String(exitCode));
}
