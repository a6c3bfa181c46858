import { BerthError, FailedPreconditionError, NotFoundError } from '../errors.js';

/**
 * Turns what an OCI runtime printed on stderr into one readable message.
 * runc with `--log-format json` prints one JSON object per line
 * (`{"level":"error","msg":"..."}`); crun and older tools print plain text.
 * Error-level entries win; warnings are kept only when nothing else was said.
 */
export function runtimeErrorMessage(stderr: string): string {
  const errors: string[] = [];
  const others: string[] = [];
  for (const rawLine of stderr.split('\n')) {
    const line = rawLine.trim();
    if (line === '') continue;
    const entry = parseJsonLogLine(line);
    if (entry === undefined) {
      others.push(line);
    } else if (entry.level === 'error' || entry.level === 'fatal' || entry.level === 'panic') {
      errors.push(entry.msg);
    } else {
      others.push(entry.msg);
    }
  }
  const chosen = errors.length > 0 ? errors : others;
  return [...new Set(chosen)].join('; ');
}

interface JsonLogEntry {
  level: string;
  msg: string;
}

function parseJsonLogLine(line: string): JsonLogEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return undefined;
    const record = value as Record<string, unknown>;
    if (typeof record.msg !== 'string') return undefined;
    return { level: typeof record.level === 'string' ? record.level : 'info', msg: record.msg };
  } catch {
    return undefined;
  }
}

/** A runtime command failed for a reason that is not a missing container or a wrong state. */
export class OciRuntimeError extends Error {
  constructor(
    message: string,
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'OciRuntimeError';
  }
}

// runc: "container does not exist"; crun: "error opening file `<root>/<id>/status`: No such file or directory"
// (state, kill) or "cannot open directory '<root>/<id>': No such file or directory" (delete).
const NOT_FOUND = /does not exist|no such container|opening file .*status.*No such file or directory|cannot open directory .*No such file or directory/i;
// Messages runc and crun print when the container is in the wrong state for the operation.
const WRONG_STATE = /not running|is not paused|is paused|not (?:yet )?created|cannot (?:start|pause|resume|kill|delete)|that is not stopped|already (?:running|paused|stopped)|container is stopped|is in state/i;

/**
 * Builds the error for a failed runtime invocation: NotFoundError when the
 * container is unknown, FailedPreconditionError when it is in the wrong state,
 * OciRuntimeError otherwise. The message names the runtime, verb and container.
 */
export function runtimeFailure(
  runtimeName: string,
  verb: string,
  id: string,
  command: readonly string[],
  exitCode: number | null,
  stderr: string,
): Error {
  const reason = runtimeErrorMessage(stderr) || `exit status ${exitCode ?? 'unknown'}`;
  const message = `${runtimeName} ${verb} ${id} failed: ${reason}`;
  if (NOT_FOUND.test(reason)) return new NotFoundError(`container ${id} not found by ${runtimeName}: ${reason}`);
  if (WRONG_STATE.test(reason)) return new FailedPreconditionError(message);
  return new OciRuntimeError(message, command, exitCode, stderr);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof BerthError && err.code === 'NOT_FOUND';
}
