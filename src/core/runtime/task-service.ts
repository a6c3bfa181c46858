import { access, mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { Mount } from '../snapshots/snapshotter.js';
import { mountAll, unmountAll } from '../snapshots/mount.js';
import { launchMonitor } from './conmon.js';
import { REOPEN_LOGS_MESSAGE, sendControlMessage } from './conmon-control.js';
import { ExitMonitor, type ObservedExit } from './exit-monitor.js';
import { writeExitFile } from './exit-file.js';
import type { OciRuntime } from './oci-runtime.js';
import { RuncRuntime } from './oci-runtime.js';
import { wasOomKilled } from './oom.js';
import { isProcessAlive, readPidFile } from './proc.js';
import { probeHandlerFeatures, type HandlerFeatures } from './runtime-features.js';

/** How long ReopenContainerLog waits for conmon to create the new file (CRI-O waits 20s). */
const REOPEN_LOG_WAIT_MS = 10_000;
/** How long a delete waits for the conmon of a live container to record its exit. */
const DELETE_EXIT_WAIT_MS = 2_000;

export interface TaskCreateOptions {
  id: string;
  handler: string;
  /** The OCI runtime spec; `root.path` is set to the bundle's rootfs here. */
  spec: { root?: { path: string; readonly?: boolean } } & Record<string, unknown>;
  rootfs: readonly Mount[];
  /** Runs once the rootfs is mounted (at the path given), before the runtime creates the container. */
  prepareRootfs?: (rootfs: string) => Promise<void>;
  logPath: string;
  terminal?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
}

/** The exit status reported for a container whose monitor died (containerd's unknownExitCode). */
export const UNKNOWN_EXIT_CODE = 255;

/** How long settling waits for the exit monitor to read the exit file it just wrote. */
const SETTLE_READ_WAIT_MS = 10_000;

export interface TaskServiceOptions {
  stateDir: string;
  runtimes: Record<string, { path: string }>;
  systemdCgroup: boolean;
  conmonPath?: string;
  onExitReadError?(id: string, err: Error): void;
}

/** The state directory (`--root`) berthd gives the runtime of handler `name`. */
export function runtimeRootDir(stateDir: string, name: string): string {
  return join(stateDir, 'runtime', name);
}

/**
 * Runs containers ("tasks", as containerd calls them) from a spec and a rootfs:
 * bundle directory, rootfs mount, conmon-supervised `runc create`, start,
 * signals, exit status, deletion. berthd is never the containers' parent.
 */
export class TaskService {
  private readonly runtimes = new Map<string, OciRuntime>();
  private readonly features = new Map<string, Promise<HandlerFeatures>>();
  readonly exitDir: string;
  /** Every container's exit, kept in memory; start() it before serving. */
  readonly exits: ExitMonitor;
  private readonly socketDir: string;

  constructor(private readonly options: TaskServiceOptions) {
    this.exitDir = join(options.stateDir, 'exits');
    this.socketDir = join(options.stateDir, 'sockets');
    this.exits = new ExitMonitor({
      exitDir: this.exitDir,
      oomKilled: (id) => this.oomKilled(id),
      ...(options.onExitReadError ? { onError: options.onExitReadError } : {}),
    });
    for (const [name, handler] of Object.entries(options.runtimes)) {
      this.runtimes.set(
        name,
        new RuncRuntime({ path: handler.path, root: runtimeRootDir(options.stateDir, name), systemdCgroup: options.systemdCgroup }),
      );
    }
  }

  runtime(handler: string): OciRuntime {
    const runtime = this.runtimes.get(handler);
    if (!runtime) {
      throw new InvalidArgumentError(`unknown runtime handler "${handler}"; configured: ${[...this.runtimes.keys()].join(', ')}`);
    }
    return runtime;
  }

  /** The optional features of a handler's runtime, probed once. */
  handlerFeatures(handler: string): Promise<HandlerFeatures> {
    const runtime = this.runtime(handler);
    let probe = this.features.get(handler);
    if (!probe) {
      probe = probeHandlerFeatures(runtime.path);
      this.features.set(handler, probe);
    }
    return probe;
  }

  bundleDir(id: string): string {
    return join(this.options.stateDir, 'bundles', id);
  }

  persistDir(id: string): string {
    return join(this.options.stateDir, 'conmon', id);
  }

  /**
   * Creates the container (not started): returns its init pid. conmon is
   * started first and waits while the rootfs is mounted and config.json
   * written.
   */
  async create(opts: TaskCreateOptions): Promise<{ pid: number }> {
    const runtime = this.runtime(opts.handler);
    const bundle = this.bundleDir(opts.id);
    const rootfs = join(bundle, 'rootfs');
    // conmon runs in the bundle; launchMonitor makes the directories conmon writes to.
    await mkdir(bundle, { recursive: true, mode: 0o711 });
    const monitor = await launchMonitor({
      id: opts.id,
      bundle,
      runtime,
      ...(this.options.conmonPath ? { conmonPath: this.options.conmonPath } : {}),
      exitDir: this.exitDir,
      persistDir: this.persistDir(opts.id),
      socketDir: this.socketDir,
      logPath: opts.logPath,
      terminal: opts.terminal ?? false,
      stdin: opts.stdin ?? false,
      leaveStdinOpen: opts.stdin === true && opts.stdinOnce !== true,
    });
    try {
      await mountAll(opts.rootfs, rootfs);
      await opts.prepareRootfs?.(rootfs);
      const spec = { ...opts.spec, root: { path: 'rootfs', readonly: opts.spec.root?.readonly ?? false } };
      const tmp = join(bundle, 'config.json.tmp');
      await writeFile(tmp, JSON.stringify(spec));
      await rename(tmp, join(bundle, 'config.json'));
      const started = await monitor.create();
      return { pid: started.pid };
    } catch (err) {
      monitor.abort();
      await runtime.delete(opts.id, { force: true }).catch(() => undefined);
      unmountAll(rootfs);
      throw err;
    }
  }

  start(id: string, handler: string): Promise<void> {
    return this.runtime(handler).start(id);
  }

  kill(id: string, handler: string, signal: NodeJS.Signals | number, all = false): Promise<void> {
    return this.runtime(handler).kill(id, signal, all);
  }

  async status(id: string, handler: string): Promise<'created' | 'running' | 'paused' | 'stopped' | 'unknown'> {
    const state = await this.runtime(handler).state(id);
    if (!state) return 'unknown';
    return state.status === 'creating' ? 'created' : state.status;
  }

  /** The container's exit as last observed, or undefined while it runs. */
  exitInfo(id: string): ObservedExit | undefined {
    return this.exits.get(id);
  }

  waitExit(id: string, timeoutMs: number): Promise<ObservedExit> {
    return this.exits.waitFor(id, timeoutMs);
  }

  oomKilled(id: string): Promise<boolean> {
    return wasOomKilled(this.persistDir(id), this.bundleDir(id));
  }

  /** Whether the container's conmon still runs: without it nobody records the container's exit. */
  async monitorAlive(id: string): Promise<boolean> {
    const pid = await readPidFile(join(this.persistDir(id), 'conmon.pid')).catch(() => undefined);
    if (pid === undefined || !isProcessAlive(pid)) return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes(id);
  }

  /**
   * Ends a container whose conmon died (as conmon does when berthd dies before
   * reading its report of `runtime create`): kills and deletes it in the runtime
   * and records UNKNOWN_EXIT_CODE as its exit, as containerd does for a task whose shim died.
   */
  async settleUnmonitored(id: string, handler: string): Promise<void> {
    await this.runtime(handler).delete(id, { force: true });
    await mkdir(this.exitDir, { recursive: true });
    await writeExitFile(this.exitDir, id, UNKNOWN_EXIT_CODE);
    // Read it now rather than when the watch event comes: berthd serves right after recovery.
    await this.exits.waitFor(id, SETTLE_READ_WAIT_MS);
  }

  /**
   * Asks the container's conmon to reopen its log file (control fifo message 2,
   * as CRI-O sends) and returns once `logPath`, when given, exists again: kubelet
   * renames the file, then expects the runtime to have created the new one.
   */
  async reopenLog(id: string, logPath?: string): Promise<void> {
    await sendControlMessage(this.controlPath(id), REOPEN_LOGS_MESSAGE);
    if (logPath === undefined) return;
    const deadline = Date.now() + REOPEN_LOG_WAIT_MS;
    while (!(await access(logPath).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error(`conmon of ${id} did not reopen its log file ${logPath} within ${REOPEN_LOG_WAIT_MS / 1000}s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** conmon's control fifo for the container: terminal resizes and log reopening. */
  controlPath(id: string): string {
    return join(this.bundleDir(id), 'ctl');
  }

  /** conmon's attach socket (SOCK_SEQPACKET), reached through the short symlink conmon makes under the socket dir. */
  attachSocketPath(id: string): string {
    return join(this.socketDir, id, 'attach');
  }

  /** Removes the container from the runtime and everything on disk; idempotent. */
  async delete(id: string, handler: string): Promise<void> {
    const stillMonitored = this.exits.get(id) === undefined && (await this.monitorAlive(id));
    await this.runtime(handler).delete(id, { force: true });
    // Its conmon writes the exit file once it sees the kill: wait for it, or it would outlive the container.
    if (stillMonitored) await this.exits.waitFor(id, DELETE_EXIT_WAIT_MS).catch(() => undefined);
    unmountAll(join(this.bundleDir(id), 'rootfs'));
    await rm(this.bundleDir(id), { recursive: true, force: true });
    await rm(this.persistDir(id), { recursive: true, force: true });
    await rm(join(this.exitDir, id), { force: true });
    this.exits.forget(id);
    await rm(join(this.socketDir, id), { recursive: true, force: true });
  }
}
