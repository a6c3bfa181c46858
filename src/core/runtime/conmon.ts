import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { DeadlineExceededError, InvalidArgumentError } from '../errors.js';
import { resolveExecutable } from './binary.js';
import type { OciRuntime } from './oci-runtime.js';
import { readPidFile } from './proc.js';
import { spawnChild } from '../sys/spawn.js';
import { runtimeErrorMessage } from './runtime-errors.js';

/** What conmon needs to know about the OCI runtime it runs. */
export type MonitoredRuntime = Pick<OciRuntime, 'name' | 'path' | 'globalArgs'>;

export interface MonitoredContainerOptions {
  id: string;
  /** Bundle directory: config.json plus the rootfs it names. conmon also keeps its fifos and attach socket here. */
  bundle: string;
  runtime: MonitoredRuntime;
  /** conmon binary (default "conmon", looked up in PATH). */
  conmonPath?: string;
  /** One directory per daemon state; conmon writes `<exitDir>/<id>` holding the exit status. */
  exitDir: string;
  /** Per-container directory for conmon's own files (pid files, `exit`, `oom`). */
  persistDir: string;
  /** Short directory where conmon links `<id>` to the bundle so the attach socket path stays under 108 bytes. */
  socketDir: string;
  /** CRI log file (`<RFC3339Nano> stdout|stderr F|P <text>`). */
  logPath: string;
  /** Default `<persistDir>/pidfile`. */
  containerPidFile?: string;
  /** Default `<persistDir>/conmon.pid`. */
  conmonPidFile?: string;
  /** Container name for conmon's own messages. */
  name?: string;
  /** Allocate a pseudo-terminal (the OCI spec must set process.terminal too). */
  terminal?: boolean;
  /** Keep a stdin pipe that attach clients write to. */
  stdin?: boolean;
  /** Keep stdin open after the first attach client disconnects (CRI: !stdin_once). */
  leaveStdinOpen?: boolean;
  /** Rotate the log file above this many bytes (conmon's --log-size-max). */
  logSizeMax?: number;
  /** Program (and arguments) conmon runs after the container exits. */
  exitCommand?: readonly string[];
  /** Send conmon's own diagnostics to syslog. */
  syslog?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Give up when `runtime create` has not finished in this time (default 120 s). */
  createTimeoutMs?: number;
  /**
   * Called with conmon's pid before it is allowed to run `runtime create`
   * (the start pipe): the place to move conmon into a cgroup.
   */
  beforeCreate?: (conmonPid: number) => void | Promise<void>;
}

export interface MonitoredContainer {
  /** Container init pid on the host. */
  pid: number;
  /** The daemonized conmon that supervises it. */
  conmonPid: number;
  containerPidFile: string;
  conmonPidFile: string;
}

/** conmon or the runtime refused to create the container. */
export class ContainerCreateError extends Error {
  constructor(message: string, readonly detail: string) {
    super(message);
    this.name = 'ContainerCreateError';
  }
}

// conmon reads these env vars to find the fds we pass at positions 3 and 4.
const SYNC_PIPE_FD = 3;
const START_PIPE_FD = 4;
const DEFAULT_CREATE_TIMEOUT_MS = 120_000;
// Inherited systemd activation variables would make conmon or the runtime think sockets were handed to them.
const DROPPED_ENV = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET'];

/**
 * The conmon command line for a create. No --api-version: with the default (0)
 * conmon writes to the sync pipe exactly once for a create, so closing our end
 * afterwards can never hand it a SIGPIPE.
 */
export function conmonArgs(options: MonitoredContainerOptions, runtimePath: string): string[] {
  const containerPidFile = options.containerPidFile ?? join(options.persistDir, 'pidfile');
  const conmonPidFile = options.conmonPidFile ?? join(options.persistDir, 'conmon.pid');
  const args = [
    '--cid', options.id,
    '--cuuid', options.id,
    '--name', options.name ?? options.id,
    '--runtime', runtimePath,
    '--bundle', options.bundle,
    '--exit-dir', options.exitDir,
    '--persist-dir', options.persistDir,
    '--socket-dir-path', options.socketDir,
    '--container-pidfile', containerPidFile,
    '--conmon-pidfile', conmonPidFile,
    '--log-path', options.logPath,
  ];
  for (const arg of options.runtime.globalArgs()) args.push(`--runtime-arg=${arg}`);
  if (options.logSizeMax !== undefined && options.logSizeMax > 0) args.push('--log-size-max', String(options.logSizeMax));
  if (options.logLevel) args.push('--log-level', options.logLevel);
  if (options.syslog) args.push('--syslog');
  if (options.terminal) args.push('--terminal');
  if (options.stdin) {
    args.push('--stdin');
    if (options.leaveStdinOpen) args.push('--leave-stdin-open');
  }
  if (options.exitCommand && options.exitCommand.length > 0) {
    const [command, ...commandArgs] = options.exitCommand;
    args.push('--exit-command', command as string);
    for (const arg of commandArgs) args.push(`--exit-command-arg=${arg}`);
  }
  return args;
}

/**
 * Launches conmon for a prepared bundle and returns once `runtime create` has
 * finished: the container exists in state "created" and its init pid is known.
 * conmon double-forks, so the process that supervises the container is not a
 * child of this one and survives the daemon. Start it with `runtime.start(id)`.
 * On failure the runtime's own reason is in the error message.
 */
export async function startMonitoredContainer(options: MonitoredContainerOptions): Promise<MonitoredContainer> {
  await requireBundleConfig(options.bundle);
  return (await launchMonitor(options)).create();
}

async function requireBundleConfig(bundle: string): Promise<void> {
  await access(join(bundle, 'config.json')).catch((err: Error) => {
    throw new InvalidArgumentError(`bundle ${bundle} has no readable config.json: ${err.message}`);
  });
}

/** A conmon started ahead of its bundle, held at the start pipe. */
export interface LaunchedMonitor {
  /**
   * Lets conmon run `runtime create` (the bundle must be complete by now:
   * config.json and its rootfs) and resolves once the container exists, as
   * startMonitoredContainer does. Call it once.
   */
  create(): Promise<MonitoredContainer>;
  /** Kills a conmon that was never let go (nothing was created); does nothing after create(). */
  abort(): void;
}

/**
 * Starts conmon for the bundle directory (which must exist) without letting
 * it go on: conmon waits at its start pipe until create() while the caller
 * mounts the rootfs and writes config.json, so conmon's own start-up runs
 * at the same time as that work. (Before it waits, conmon already opens the
 * log file, so the directories are made first.)
 */
export async function launchMonitor(options: MonitoredContainerOptions): Promise<LaunchedMonitor> {
  const conmonPath = resolveExecutable(options.conmonPath ?? 'conmon');
  const runtimePath = resolveExecutable(options.runtime.path);
  const containerPidFile = options.containerPidFile ?? join(options.persistDir, 'pidfile');
  const conmonPidFile = options.conmonPidFile ?? join(options.persistDir, 'conmon.pid');
  const dirs = new Set([options.exitDir, options.persistDir, options.socketDir, dirname(options.logPath), dirname(containerPidFile), dirname(conmonPidFile)]);
  await Promise.all([...dirs].map((dir) => mkdir(dir, { recursive: true })));

  const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: String(SYNC_PIPE_FD), _OCI_STARTPIPE: String(START_PIPE_FD) };
  for (const name of DROPPED_ENV) delete env[name];

  const child = spawnChild(conmonPath, conmonArgs({ ...options, containerPidFile, conmonPidFile }, runtimePath), {
    cwd: options.bundle,
    env,
    // 'pipe' entries beyond stdio become socketpairs: conmon only reads and writes them.
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const output: Buffer[] = [];
  const stdout = child.stdio[1] as Readable;
  const stderr = child.stdio[2] as Readable;
  const syncPipe = child.stdio[SYNC_PIPE_FD] as Readable;
  const startPipe = child.stdio[START_PIPE_FD] as Writable;
  stdout.on('data', (chunk: Buffer) => output.push(chunk));
  stderr.on('data', (chunk: Buffer) => output.push(chunk));
  startPipe.on('error', () => undefined);
  syncPipe.on('error', () => undefined);

  const releaseAll = (): void => {
    for (const stream of [stdout, stderr, syncPipe, startPipe]) stream.destroy();
    child.unref();
  };

  const launcherExit = new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new ContainerCreateError(`cannot run conmon (${conmonPath}): ${err.message}`, '')));
    child.once('exit', (code) => resolve(code));
  });
  launcherExit.catch(() => undefined);
  let used = false;

  const create = async (): Promise<MonitoredContainer> => {
    used = true;
    const timeoutMs = options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceededError(`creating container ${options.id} with conmon did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    deadline.catch(() => undefined);
    let startSent = false;
    try {
      if (child.pid === undefined) {
        await launcherExit; // rejects with the spawn error
        throw new ContainerCreateError(`conmon (${conmonPath}) did not start`, '');
      }
      await requireBundleConfig(options.bundle);
      if (options.beforeCreate) await Promise.race([Promise.resolve(options.beforeCreate(child.pid)), deadline]);
      // Any byte lets conmon go on to fork and run `runtime create`.
      startPipe.end(Buffer.from([0]));
      startSent = true;

      const syncMessage = readSyncMessage(syncPipe);
      const launcherCode = await Promise.race([launcherExit, deadline]);
      if (launcherCode !== 0) {
        const detail = Buffer.concat(output).toString('utf8').trim();
        throw new ContainerCreateError(
          `conmon failed to start for container ${options.id} (exit status ${launcherCode ?? 'signal'}): ${detail || 'no message'}`,
          detail,
        );
      }
      const message = await Promise.race([syncMessage, deadline]);
      if (message === undefined) {
        throw new ContainerCreateError(
          `conmon for container ${options.id} exited without reporting the container pid; check that ${options.runtime.name} can run the bundle ${options.bundle}`,
          '',
        );
      }
      if (message.pid <= 0) {
        const said = runtimeErrorMessage(message.message ?? '');
        // runc already prefixes its own reason with "runc create failed: "; say it once.
        const reason = said.replace(/^\S+ create failed: /, '') || 'no message from the runtime';
        throw new ContainerCreateError(`${options.runtime.name} create ${options.id} failed: ${reason}`, message.message ?? '');
      }
      const conmonPid = await readPidFile(conmonPidFile);
      if (conmonPid === undefined) throw new ContainerCreateError(`conmon did not write its pid file ${conmonPidFile}`, '');
      return { pid: message.pid, conmonPid, containerPidFile, conmonPidFile };
    } catch (err) {
      // Closing the start pipe unwritten would also let conmon go on, so stop the launcher first.
      if (!startSent) child.kill('SIGKILL');
      else if (err instanceof DeadlineExceededError) await killConmon(conmonPidFile);
      throw err;
    } finally {
      clearTimeout(timer);
      releaseAll();
    }
  };

  const abort = (): void => {
    if (used) return;
    used = true;
    child.kill('SIGKILL');
    releaseAll();
  };
  return { create, abort };
}

interface SyncMessage {
  pid: number;
  message?: string;
}

/** Reads the first JSON line conmon writes on the sync pipe; undefined if it closes without one. */
function readSyncMessage(stream: Readable): Promise<SyncMessage | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline >= 0) {
        done();
        resolve(parseSyncMessage(text.slice(0, newline)));
      }
    };
    const onEnd = (): void => {
      done();
      resolve(text.trim() === '' ? undefined : parseSyncMessage(text));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}

/** conmon reports `{"pid": N}` (`"data"` with --api-version 1) and `{"...": -1, "message": "..."}` on failure. */
export function parseSyncMessage(line: string): SyncMessage {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    const pid = typeof value.data === 'number' ? value.data : typeof value.pid === 'number' ? value.pid : -1;
    const message = typeof value.message === 'string' ? value.message : undefined;
    return message === undefined ? { pid } : { pid, message };
  } catch {
    // Older conmon releases did not always escape the runtime's message.
    const pid = /"(?:data|pid)"\s*:\s*(-?\d+)/.exec(line);
    const message = /"message"\s*:\s*"([\s\S]*)"\s*}?\s*$/.exec(line);
    return { pid: pid ? Number(pid[1]) : -1, message: message ? message[1] : line };
  }
}

async function killConmon(conmonPidFile: string): Promise<void> {
  try {
    const pid = await readPidFile(conmonPidFile);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  } catch {
    // Nothing left to kill.
  }
}
