/** Run a host program for the image build, failing with its output when it fails. */
import { execFile } from 'node:child_process';

export class CommandError extends Error {
  override name = 'CommandError';
}

export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const why = stderr.trim() || err.message;
          reject(new CommandError(`${command} ${args.join(' ')} failed: ${why}`, { cause: err }));
          return;
        }
        resolve(stdout);
      },
    );
  });
}
