import { spawnChild } from '../sys/spawn.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status, or null when the process was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface CommandOptions {
  /** Written to the process's stdin, which is then closed. */
  input?: string;
  /** Kill the process with SIGKILL after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Thrown when a command cannot be run at all or does not finish in time. */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Runs a program to completion and captures its output. A non-zero exit is not
 * an error here (callers decide what it means); failing to start it, or a
 * timeout, is.
 */
export function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawnChild(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = err.code === 'ENOENT' ? ' (is it installed and on PATH?)' : '';
      reject(new CommandError(`cannot run ${file}: ${err.message}${hint}`, { cause: err }));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new CommandError(`${file} ${args.join(' ')} did not finish within ${timeoutMs} ms and was killed`));
        return;
      }
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode,
        signal,
      });
    });
    if (options.input !== undefined && child.stdin) {
      // The program may exit before reading its input; that is reported through its exit status.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
