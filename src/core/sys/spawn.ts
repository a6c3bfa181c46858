/**
 * Starting child processes without fork(2). Node (libuv) forks, and a fork
 * copies the page tables of the whole daemon: 2-5 ms during which the event
 * loop stands still, for every runc, conmon and CNI plugin berthd starts
 * (and copy-on-write faults after). The native addon starts children with
 * vfork(2) instead, which shares the page tables: the same cost at any heap
 * size. The child's exit arrives through a pidfd watched on the event loop.
 *
 * spawnChild takes the subset of child_process.spawn's options berth uses
 * and returns an object with the subset of ChildProcess it relies on (pid,
 * stdio streams, kill, unref; 'error', 'exit' and 'close' events with
 * Node's meanings), so callers read the same either way. Without the native
 * addon it is child_process.spawn.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { findInPath } from './executable.js';
import {
  closeWatch, nativeAvailable, posixSpawn, reap, setWatchEvents, setWatchRef, socketPair, watchFd, WATCH_READABLE, type FdWatcher,
} from './native.js';

/** What the child gets as one descriptor: a new socket pair ('pipe'), /dev/null ('ignore'), or a descriptor of ours. */
export type StdioEntry = 'pipe' | 'ignore' | number;

export interface SpawnOptions {
  cwd?: string;
  /** The child's whole environment (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** Descriptors 0, 1, 2, ... of the child (default: all three 'pipe'). */
  stdio?: readonly StdioEntry[];
  /** Run the child in a session of its own (setsid), as child_process's `detached`. */
  detached?: boolean;
}

/** The part of ChildProcess berth uses. */
export interface Child extends EventEmitter {
  /** Undefined when the program could not be started ('error' follows). */
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: readonly (Readable | Writable | null | undefined)[];
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  unref(): void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);

/** A child whose stdout and stderr are pipes. */
export interface OutputChild extends Child {
  readonly stdout: Readable;
  readonly stderr: Readable;
}

/** A child whose three standard descriptors are pipes. */
export interface PipedChild extends OutputChild {
  readonly stdin: Writable;
}

let nativeSpawn: boolean | undefined;

/** Starts `file` (a path, or a name looked up in the child's PATH) like child_process.spawn. */
export function spawnChild(file: string, args: readonly string[], options?: SpawnOptions & { stdio?: readonly ['pipe', 'pipe', 'pipe'] }): PipedChild;
export function spawnChild(file: string, args: readonly string[], options: SpawnOptions & { stdio: readonly [StdioEntry, 'pipe', 'pipe', ...StdioEntry[]] }): OutputChild;
export function spawnChild(file: string, args: readonly string[], options?: SpawnOptions): Child;
export function spawnChild(file: string, args: readonly string[], options: SpawnOptions = {}): Child {
  nativeSpawn ??= nativeAvailable();
  const stdio = options.stdio ?? ['pipe', 'pipe', 'pipe'];
  if (!nativeSpawn) {
    return nodeSpawn(file, args, {
      stdio: stdio.map((s) => s),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.detached ? { detached: true } : {}),
    }) as unknown as Child;
  }
  return new SpawnedChild(file, args, stdio, options);
}

class SpawnedChild extends EventEmitter implements Child {
  pid: number | undefined;
  readonly stdio: (Readable | Writable | null)[] = [];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private watcher: FdWatcher | undefined;
  private pidfd = -1;
  private exited = false;
  private closesNeeded = 1; // the exit itself
  private closed = false;

  constructor(file: string, args: readonly string[], stdio: readonly StdioEntry[], options: SpawnOptions) {
    super();
    const env = options.env ?? process.env;
    const childFds: number[] = [];
    const parentEnds: (number | undefined)[] = [];
    const toClose: number[] = [];
    try {
      for (const entry of stdio) {
        if (entry === 'pipe') {
          const [ours, theirs] = socketPair();
          parentEnds.push(ours);
          childFds.push(theirs);
          toClose.push(theirs);
        } else {
          parentEnds.push(undefined);
          childFds.push(entry === 'ignore' ? -1 : entry);
        }
      }
      const path = findProgram(file, env.PATH, options.cwd);
      const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
      const started = posixSpawn(path, [file, ...args], envp, options.cwd ?? null, childFds, options.detached === true);
      this.pid = started.pid;
      this.pidfd = started.pidfd;
    } catch (err) {
      for (const fd of [...toClose, ...parentEnds]) if (fd !== undefined) closeSync(fd);
      // Like child_process after a failed spawn, the pipes exist: reads end at once, writes go nowhere.
      for (const [i, entry] of stdio.entries()) {
        this.stdio.push(entry !== 'pipe' ? null : i === 0 ? new Writable({ write: (_chunk, _encoding, done) => done() }) : Readable.from([]));
      }
      this.failToStart(file, args, err);
      return;
    }
    for (const fd of toClose) closeSync(fd);
    parentEnds.forEach((fd, i) => {
      if (fd === undefined) {
        this.stdio.push(null);
        return;
      }
      // As child_process does: the child's stdin is only written, every other pipe is read (and may be written).
      const socket = new Socket({ fd, readable: i > 0, writable: true });
      this.stdio.push(socket);
      if (i > 0) {
        this.closesNeeded++;
        socket.once('close', () => this.maybeClose());
      }
    });
    this.watcher = watchFd(this.pidfd, () => this.onPidfdReadable());
    setWatchEvents(this.watcher, WATCH_READABLE);
  }

  get stdin(): Writable | null {
    return (this.stdio[0] as Writable | undefined) ?? null;
  }

  get stdout(): Readable | null {
    return (this.stdio[1] as Readable | undefined) ?? null;
  }

  get stderr(): Readable | null {
    return (this.stdio[2] as Readable | undefined) ?? null;
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    // Until we reap it the pid stays ours (a zombie at worst), so it cannot name another process.
    if (this.pid === undefined || this.exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  unref(): void {
    if (this.watcher && !this.exited) setWatchRef(this.watcher, false);
  }

  private onPidfdReadable(): void {
    if (this.exited || this.pid === undefined) return;
    let status: { code: number | null; signal: number | null } | null;
    try {
      status = reap(this.pid);
    } catch {
      // Only if something else reaped our child (ECHILD): it is gone, its status with it.
      status = { code: null, signal: null };
    }
    if (status === null) return;
    this.exited = true;
    closeWatch(this.watcher!);
    closeSync(this.pidfd);
    this.exitCode = status.code;
    this.signalCode = status.signal === null ? null : (SIGNAL_NAMES.get(status.signal) ?? null);
    this.emit('exit', this.exitCode, this.signalCode);
    // As child_process does: nobody writes to a dead child.
    this.stdin?.destroy();
    this.maybeClose();
  }

  private maybeClose(): void {
    if (--this.closesNeeded > 0 || this.closed) return;
    this.closed = true;
    this.emit('close', this.exitCode, this.signalCode);
  }

  /** As child_process: 'error' on the next tick, then 'close' with the negative errno. */
  private failToStart(file: string, args: readonly string[], err: unknown): void {
    const { code: rawCode, errno: rawErrno } = err as { code?: unknown; errno?: unknown };
    const code = typeof rawCode === 'string' ? rawCode : 'EINVAL';
    const errno = typeof rawErrno === 'number' ? rawErrno : -22;
    const error = Object.assign(new Error(`spawn ${file} ${code}`, { cause: err }), {
      code,
      errno,
      syscall: `spawn ${file}`,
      path: file,
      spawnargs: [...args],
    });
    process.nextTick(() => {
      this.emit('error', error);
      // Like the pipes' own close in child_process, 'close' comes on a later turn.
      setImmediate(() => {
        this.exitCode = errno;
        this.closed = true;
        this.emit('close', errno, null);
      });
    });
  }
}

/** The program's absolute path: `file` itself when it names a path (relative to the child's cwd), else the first executable match in PATH. */
function findProgram(file: string, searchPath: string | undefined, cwd: string | undefined): string {
  if (file.includes('/')) return isAbsolute(file) ? file : resolve(cwd ?? '.', file);
  const found = findInPath(file, searchPath);
  if (found === undefined) throw Object.assign(new Error(`${file} not found in PATH`), { code: 'ENOENT', errno: -2 });
  return found;
}
