import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadlineExceededError } from '../errors.js';
import type { OciRuntime } from './oci-runtime.js';
import { FdStream } from '../sys/fd-stream.js';
import { openPty, setWindowSize } from '../sys/native.js';
import { resolveExecutable } from './binary.js';
import { spawnChild, type Child } from '../sys/spawn.js';
import type { StreamIO } from './stream-io.js';

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
export async function execSync(runtime: OciRuntime, id: string, cmd: string[], timeoutMs: number, pidFileDir: string): Promise<ExecSyncResult> {
  return withPidFile(pidFileDir, async (pidFile) => {
    const binary = resolveExecutable(runtime.path);
    const child = spawnChild(binary, [...runtime.globalArgs(), 'exec', '--pid-file', pidFile, id, ...cmd], {
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
            killExecProcess(pidFile, child);
          }, timeoutMs)
        : undefined;
    const code = await exitCode(child);
    if (timer) clearTimeout(timer);
    if (timedOut) throw new DeadlineExceededError(`command ${JSON.stringify(cmd)} in container ${id} timed out after ${timeoutMs / 1000}s`);
    const stderr = Buffer.concat(err);
    // runc's own failures (no such container, bad command) come as JSON log lines on stderr with code 255/1.
    return { exitCode: code, stdout: Buffer.concat(out), stderr: stripRuntimeLog(stderr) };
  });
}

/**
 * Runs `work` with a path for runc's --pid-file: a fresh name in `dir` (the
 * container's bundle directory, where containerd's shim keeps its exec pid
 * files too).
 */
async function withPidFile<T>(dir: string, work: (pidFile: string) => Promise<T>): Promise<T> {
  const pidFile = join(dir, `exec-${randomBytes(8).toString('hex')}.pid`);
  try {
    return await work(pidFile);
  } finally {
    // Nobody waits for this: the answer does not depend on it, and the bundle goes with the container anyway.
    void unlink(pidFile).catch(() => undefined);
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

/** Most of runc's own messages kept when it runs on a terminal (they are shown if the exec fails). */
const RUNTIME_MESSAGE_LIMIT = 64 * 1024;
/**
 * After runc exits the terminal is read to its end (EIO once no slave is
 * open). Should something else still hold the slave, the terminal is closed
 * once no output has come for this long.
 */
const TERMINAL_IDLE_MS = 5_000;

/**
 * Runs a command in a running container wired to streams (kubectl exec).
 * When the client goes away (signal), the exec'd process is killed.
 */
export async function execStream(runtime: OciRuntime, id: string, cmd: string[], io: StreamIO, pidFileDir: string): Promise<number> {
  return withPidFile(pidFileDir, async (pidFile) => {
    const binary = resolveExecutable(runtime.path);
    const args = [...runtime.globalArgs(), 'exec', '--pid-file', pidFile, ...(io.tty ? ['--tty'] : []), id, ...cmd];
    return io.tty ? await execOnTerminal(binary, args, pidFile, io) : await execOnPipes(binary, args, pidFile, io);
  });
}

/** SIGKILL to the exec'd process through runc's pid file; to runc itself while the pid file is not written yet. */
function killExecProcess(pidFile: string, child: Child): void {
  void readFile(pidFile, 'utf8')
    .then((pid) => process.kill(Number(pid.trim()), 'SIGKILL'))
    .catch(() => child.kill('SIGKILL'));
}

/** Kills the exec'd process when the client goes away. */
function killOnAbort(signal: AbortSignal, pidFile: string, child: Child): () => void {
  const onAbort = (): void => killExecProcess(pidFile, child);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** Resolves when `ended` does, or once the stream has carried no data for idleMs. */
function endedOrIdle(stream: FdStream, ended: Promise<unknown>, idleMs: number): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(finish, idleMs);
    const onData = (): void => {
      clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    function finish(): void {
      clearTimeout(timer);
      stream.off('data', onData);
      resolve();
    }
    stream.on('data', onData);
    void ended.then(finish);
  });
}

/** Resolves once the child has exited and its stdio pipes are read to their end ('close'). */
function exitCode(child: Child): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 137 : 1)));
  });
}

async function execOnPipes(binary: string, args: string[], pidFile: string, io: StreamIO): Promise<number> {
  const child = spawnChild(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // A command that exits without reading its stdin leaves what the client still sends to a closed pipe (EPIPE).
  child.stdin.on('error', () => undefined);
  if (io.stdin) io.stdin.pipe(child.stdin);
  else child.stdin.end();
  if (io.stdout) child.stdout.pipe(io.stdout, { end: false });
  else child.stdout.resume();
  if (io.stderr) child.stderr.pipe(io.stderr, { end: false });
  else child.stderr.resume();
  const stopKilling = killOnAbort(io.signal, pidFile, child);
  try {
    return await exitCode(child);
  } finally {
    stopKilling();
    if (io.stdin) io.stdin.unpipe(child.stdin);
  }
}

/**
 * With a terminal, runc runs on a pseudo-terminal of ours: runc takes it as
 * its host console, sets it raw and relays it to the container's own
 * terminal. A resize sets our terminal's size and sends runc SIGWINCH, on
 * which runc copies the size to the container's terminal (the same way
 * `runc exec -t` follows the window of a person's terminal). runc's own
 * messages (JSON log lines) go to a pipe and are shown only if it fails.
 */
async function execOnTerminal(binary: string, args: string[], pidFile: string, io: StreamIO): Promise<number> {
  const pty = openPty();
  let child: Child | undefined;
  const unsubscribe = io.resize?.subscribe((size) => {
    try {
      setWindowSize(pty.master, size.height, size.width);
      if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGWINCH');
    } catch {
      // The terminal is closing: nothing left to resize.
    }
  });
  let master: FdStream;
  try {
    master = new FdStream(pty.master, { endWrite: 'none', eioIsEnd: true });
  } catch (err) {
    unsubscribe?.();
    closeSync(pty.slave);
    throw err;
  }
  master.on('error', () => undefined);
  const masterEnded = once(master, 'end').catch(() => undefined);
  let runtimeMessages = '';
  try {
    try {
      child = spawnChild(binary, args, { stdio: [pty.slave, pty.slave, 'pipe'] });
    } finally {
      // runc holds the terminal now; the master reads EIO once runc (the last holder) is gone.
      closeSync(pty.slave);
    }
    child.stderr!.on('data', (chunk: Buffer) => {
      if (runtimeMessages.length < RUNTIME_MESSAGE_LIMIT) runtimeMessages += chunk.toString('utf8');
    });
    if (io.stdout) master.pipe(io.stdout, { end: false });
    else master.resume();
    // A terminal has no end of input to pass on: the command ends when it exits or the client goes away.
    io.stdin?.pipe(master, { end: false });
    const stopKilling = killOnAbort(io.signal, pidFile, child);
    try {
      const code = await exitCode(child);
      await endedOrIdle(master, masterEnded, TERMINAL_IDLE_MS);
      if (code !== 0 && runtimeMessages.trim() && io.stdout) {
        io.stdout.write(stripRuntimeLog(Buffer.from(runtimeMessages)).toString('utf8').trim() + '\r\n');
      }
      return code;
    } finally {
      stopKilling();
    }
  } finally {
    unsubscribe?.();
    io.stdin?.unpipe(master);
    if (io.stdout) master.unpipe(io.stdout);
    master.destroy();
  }
}
