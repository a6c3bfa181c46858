import { InvalidArgumentError } from '../core/errors.js';

/** The kernel's limit on one argument (MAX_ARG_STRLEN); longer ones fail execve with E2BIG. */
const MAX_ARGUMENT_BYTES = 128 * 1024;
/** Well under ARG_MAX (2 MiB with the default stack limit), leaving room for runc's own arguments and environment. */
const MAX_COMMAND_BYTES = 1024 * 1024;

/** Refuses a command that execve could never run: empty, a NUL inside an argument, or arguments too long. */
export function validateExecCommand(cmd: readonly string[]): void {
  if (cmd.length === 0) throw new InvalidArgumentError('cmd must not be empty');
  let total = 0;
  for (const [i, arg] of cmd.entries()) {
    if (arg.includes('\0')) throw new InvalidArgumentError(`cmd[${i}] contains a NUL byte`);
    const bytes = Buffer.byteLength(arg);
    if (bytes > MAX_ARGUMENT_BYTES) throw new InvalidArgumentError(`cmd[${i}] is ${bytes} bytes, more than the ${MAX_ARGUMENT_BYTES} one argument may have`);
    total += bytes + 1;
  }
  if (total > MAX_COMMAND_BYTES) throw new InvalidArgumentError(`cmd is ${total} bytes in all, more than the ${MAX_COMMAND_BYTES} allowed`);
}

/** Longest delay setTimeout honours; beyond it Node fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A CRI timeout in seconds (int64, any value a client sends) as timer milliseconds: negative is 0, huge is the longest timer. */
export function timeoutSecondsToMs(seconds: string | number): number {
  const value = Number(seconds);
  if (!Number.isFinite(value) || value <= 0) return 0;
  return Math.min(value * 1000, MAX_TIMER_MS);
}
