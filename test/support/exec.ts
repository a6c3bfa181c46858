import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command and returns its exit code and output (never rejects on a non-zero exit). */
export function run(command: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(err);
          return;
        }
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * crictl's flags to talk to the daemon at `socket` and nothing else. The
 * machine's /etc/crictl.yaml is not read (`--config /dev/null`): an operator's
 * file (scripts/setup.sh installs one) names /run/berth/berth.sock, and crictl
 * takes each endpoint not given on the command line from it.
 */
export function crictlEndpoint(socket: string): string[] {
  const endpoint = `unix://${socket}`;
  return ['--config', '/dev/null', '--runtime-endpoint', endpoint, '--image-endpoint', endpoint];
}

/** crictl against a given socket. */
export function crictl(socket: string, args: string[], timeoutMs = 120_000): Promise<CommandResult> {
  return run('crictl', [...crictlEndpoint(socket), '--timeout', '60s', ...args], { timeoutMs });
}
