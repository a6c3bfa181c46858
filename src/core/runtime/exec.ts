import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlineExceededError } from '../errors.js';
import type { OciRuntime } from './oci-runtime.js';
import { resolveExecutable } from './binary.js';

export interface ExecSyncResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Most output kept per stream; kubelet's gRPC limit is 16 MiB per message. */
export const EXEC_OUTPUT_LIMIT = 8 * 1024 * 1024;

/**
 * Runs a command in a running container with `runc exec` (it inherits the
 * container's user, env, cwd and capabilities) and collects its output.
 * On timeout the exec'd process is killed through its pid file.
 */
export async function execSync(runtime: OciRuntime, id: string, cmd: string[], timeoutMs: number): Promise<ExecSyncResult> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-exec-'));
  const pidFile = join(dir, 'pid');
  try {
    const binary = resolveExecutable(runtime.path);
    const child = spawn(binary, [...runtime.globalArgs(), 'exec', '--pid-file', pidFile, id, ...cmd], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (outBytes < EXEC_OUTPUT_LIMIT) out.push(d);
      outBytes += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      if (errBytes < EXEC_OUTPUT_LIMIT) err.push(d);
      errBytes += d.length;
    });
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            void readFile(pidFile, 'utf8')
              .then((pid) => process.kill(Number(pid.trim()), 'SIGKILL'))
              .catch(() => child.kill('SIGKILL'));
          }, timeoutMs)
        : undefined;
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 + 9 : 1)));
    });
    if (timer) clearTimeout(timer);
    if (timedOut) throw new DeadlineExceededError(`command ${JSON.stringify(cmd)} in container ${id} timed out after ${timeoutMs / 1000}s`);
    const stderr = Buffer.concat(err);
    // runc's own failures (no such container, bad command) come as JSON log lines on stderr with code 255/1.
    return { exitCode: code, stdout: Buffer.concat(out), stderr: stripRuntimeLog(stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Turns runc's JSON log lines into plain text, keeps the command's own stderr as it is. */
function stripRuntimeLog(stderr: Buffer): Buffer {
  const text = stderr.toString('utf8');
  if (!text.includes('"level"')) return stderr;
  const lines = text.split('\n').map((line) => {
    try {
      const parsed = JSON.parse(line) as { msg?: string; level?: string };
      return parsed.level && parsed.msg ? parsed.msg : line;
    } catch {
      return line;
    }
  });
  return Buffer.from(lines.join('\n'));
}

export interface ExecStreamIO {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  tty: boolean;
  signal: AbortSignal;
}

/**
 * Runs a command in a running container wired to streams (kubectl exec).
 * With a tty, runc allocates the pseudo-terminal and relays it. When the
 * client goes away (signal), the exec'd process is killed.
 */
export async function execStream(runtime: OciRuntime, id: string, cmd: string[], io: ExecStreamIO): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-exec-'));
  const pidFile = join(dir, 'pid');
  try {
    const args = [...runtime.globalArgs(), 'exec', '--pid-file', pidFile, ...(io.tty ? ['-t'] : []), id, ...cmd];
    const child = spawn(resolveExecutable(runtime.path), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (io.stdin) io.stdin.pipe(child.stdin);
    else child.stdin.end();
    if (io.stdout) child.stdout.pipe(io.stdout, { end: false });
    else child.stdout.resume();
    if (io.stderr) child.stderr.pipe(io.stderr, { end: false });
    else child.stderr.resume();
    const onAbort = () => {
      void readFile(pidFile, 'utf8')
        .then((pid) => process.kill(Number(pid.trim()), 'SIGKILL'))
        .catch(() => child.kill('SIGKILL'));
    };
    io.signal.addEventListener('abort', onAbort, { once: true });
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, signal) => resolve(c ?? (signal ? 137 : 1)));
    });
    io.signal.removeEventListener('abort', onAbort);
    if (io.stdin) io.stdin.unpipe(child.stdin);
    return code;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
