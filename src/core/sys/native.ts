/**
 * Typed access to the berth_sys N-API addon (native/berth_sys.c, berth_fdio.c,
 * berth_spawn.c, berth_netns.c): the Linux syscalls Node lacks. Every call but
 * pinNewNetns (a promise) is synchronous and never blocks on I/O; failures
 * throw a SysError whose `code` is the errno name (EPERM, ENOENT, ...) and
 * `syscall` the call name.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SysError extends Error {
  code: string;
  syscall: string;
  errno?: number;
  path?: string;
}

interface BerthSysAddon {
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  flock(fd: number, operation: number): void;
  mallocTrim(): boolean;
  seqpacketConnect(path: string): number;
  openPty(): Pty;
  setWindowSize(fd: number, rows: number, cols: number): void;
  getWindowSize(fd: number): { rows: number; cols: number };
  shutdown(fd: number, how: number): void;
  readFd(fd: number, maxBytes: number): Buffer | null | undefined;
  writeFd(fd: number, data: Buffer): number;
  watchFd(fd: number, callback: (status: number, events: number) => void): FdWatcher;
  setWatchEvents(watcher: FdWatcher, events: number): void;
  closeWatch(watcher: FdWatcher): void;
  setWatchRef(watcher: FdWatcher, ref: boolean): void;
  spawn(file: string, argv: string[], envp: string[], cwd: string | null, fds: number[], setsid: boolean): { pid: number; pidfd: number };
  reap(pid: number): { code: number | null; signal: number | null } | null;
  socketPair(): [number, number];
  pinNewNetns(path: string): Promise<void>;
}

/** A new pseudo-terminal: master (non-blocking) and slave descriptors, both close-on-exec. */
export interface Pty {
  master: number;
  slave: number;
  /** /dev/pts/N */
  path: string;
}

/** Opaque handle of a descriptor watcher (a libuv poll handle on Node's event loop). */
export interface FdWatcher {
  readonly __brand: 'FdWatcher';
}

// mount(2) flags (values from <sys/mount.h>).
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;

// umount2(2) flags.
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;

// File type bits for mknod's mode (values from <sys/stat.h>).
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

const ADDON_RELATIVE_PATH = join('build', 'Release', 'berth_sys.node');

/** Walks up from `start` to the first directory holding build/Release/berth_sys.node. */
export function findAddonPath(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const candidate = join(dir, ADDON_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `native addon ${ADDON_RELATIVE_PATH} not found in ${start} or any parent directory; ` +
          'build it with `npm run build:native` in the repository root',
      );
    }
    dir = parent;
  }
}

let addon: BerthSysAddon | undefined;

function load(): BerthSysAddon {
  if (addon === undefined) {
    const require = createRequire(import.meta.url);
    addon = require(findAddonPath()) as BerthSysAddon;
  }
  return addon;
}

/** True when the addon can be loaded (it may be missing on a machine that never built it). */
export function nativeAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** mknod(2). `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO) and permissions. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  load().mknod(path, mode, major, minor);
}

/** lsetxattr(2): sets an extended attribute without following a final symlink. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  load().lsetxattr(path, name, value);
}

/** lgetxattr(2): the attribute's value, or null when it is not set. */
export function lgetxattr(path: string, name: string): Buffer | null {
  return load().lgetxattr(path, name);
}

/** llistxattr(2): names of the extended attributes set on `path` (final symlink not followed). */
export function llistxattr(path: string): string[] {
  return load().llistxattr(path);
}

/** mount(2). `source`, `fstype` and `data` may be null (e.g. for MS_REMOUNT or propagation changes). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  load().mount(source, target, fstype, flags, data);
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  load().umount2(target, flags);
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2) on an open file descriptor; with LOCK_NB a held lock fails with EWOULDBLOCK. */
export function flock(fd: number, operation: number): void {
  load().flock(fd, operation);
}

/** malloc_trim(0): returns free C-heap memory to the kernel; true when some was released. */
export function mallocTrim(): boolean {
  return load().mallocTrim();
}

/**
 * Connects a non-blocking SOCK_SEQPACKET unix socket (Node's net module only
 * does SOCK_STREAM). Paths longer than the 108-byte socket address limit work.
 * Returns the descriptor; the caller closes it.
 */
export function seqpacketConnect(path: string): number {
  return load().seqpacketConnect(path);
}

/** Opens a pseudo-terminal pair. */
export function openPty(): Pty {
  return load().openPty();
}

/** TIOCSWINSZ: sets a terminal's size; its foreground process group gets SIGWINCH. */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  load().setWindowSize(fd, rows, cols);
}

/** TIOCGWINSZ */
export function getWindowSize(fd: number): { rows: number; cols: number } {
  return load().getWindowSize(fd);
}

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** shutdown(2) on a socket descriptor. */
export function shutdown(fd: number, how: number): void {
  load().shutdown(fd, how);
}

/** One read(2) (one datagram on a seqpacket socket): null at end of file, undefined when it would block. */
export function readFd(fd: number, maxBytes: number): Buffer | null | undefined {
  return load().readFd(fd, maxBytes);
}

/** One write(2): bytes written, or -1 when it would block. */
export function writeFd(fd: number, data: Buffer): number {
  return load().writeFd(fd, data);
}

export const WATCH_READABLE = 1;
export const WATCH_WRITABLE = 2;
export const WATCH_DISCONNECT = 4;

/**
 * Watches a descriptor on Node's event loop (idle until setWatchEvents).
 * callback(status, events): status 0 or a negative errno, events the
 * WATCH_* bits that are ready. Close with closeWatch before closing the fd.
 */
export function watchFd(fd: number, callback: (status: number, events: number) => void): FdWatcher {
  return load().watchFd(fd, callback);
}

/** Which WATCH_* events to report; 0 pauses the watcher. */
export function setWatchEvents(watcher: FdWatcher, events: number): void {
  load().setWatchEvents(watcher, events);
}

/** Stops a watcher for good (the descriptor stays open). */
export function closeWatch(watcher: FdWatcher): void {
  load().closeWatch(watcher);
}

/** Whether the watcher keeps Node's event loop alive (by default it does while it watches). */
export function setWatchRef(watcher: FdWatcher, ref: boolean): void {
  load().setWatchRef(watcher, ref);
}

/**
 * posix_spawn(3) (vfork-style: no copy of our page tables) of an absolute
 * path. fds[i] becomes the child's descriptor i (-1: /dev/null); signals
 * start at their defaults, none blocked; setsid starts a new session.
 * Returns the pid and a close-on-exec pidfd that turns readable when the
 * child exits; collect the status with reap().
 */
export function posixSpawn(file: string, argv: string[], envp: string[], cwd: string | null, fds: number[], setsid: boolean): { pid: number; pidfd: number } {
  return load().spawn(file, argv, envp, cwd, fds, setsid);
}

/** waitpid(pid, WNOHANG): the exit of a child started by posixSpawn, or null while it runs. */
export function reap(pid: number): { code: number | null; signal: number | null } | null {
  return load().reap(pid);
}

/** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC). */
export function socketPair(): [number, number] {
  return load().socketPair();
}

/**
 * Creates a network namespace and bind-mounts it on the existing file
 * `path` (what `unshare --net=<path>` does), on a thread of its own so no
 * thread of Node's ever changes namespace.
 */
export function pinNewNetns(path: string): Promise<void> {
  return load().pinNewNetns(path);
}

/** Narrows an unknown thrown value to a SysError with the given errno name. */
export function isSysError(err: unknown, code?: string): err is SysError {
  return (
    err instanceof Error &&
    typeof (err as Partial<SysError>).code === 'string' &&
    typeof (err as Partial<SysError>).syscall === 'string' &&
    (code === undefined || (err as SysError).code === code)
  );
}
