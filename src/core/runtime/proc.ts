import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * True when a process with this pid exists and has not exited. A zombie (exited
 * but not yet reaped, as orphaned conmons are when PID 1 does not reap) counts as gone.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM means it exists but belongs to someone we may not signal.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = processStateSync(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The one-letter state from /proc/<pid>/stat (R, S, D, Z, ...), or undefined when the process is gone. */
export function processStateSync(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** The parent pid of `pid` from /proc/<pid>/stat, or undefined when the process is gone. */
export async function parentPidOf(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number.parseInt(afterComm[1] ?? '', 10);
  return Number.isNaN(ppid) ? undefined : ppid;
}

/** Reads a pid file as written by conmon or runc; undefined when it does not exist. */
export async function readPidFile(path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (Number.isNaN(pid) || pid <= 0) throw new Error(`pid file ${path} does not hold a pid: ${JSON.stringify(text.slice(0, 50))}`);
  return pid;
}
