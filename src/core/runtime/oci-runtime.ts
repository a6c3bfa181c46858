import { basename } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { runCommand, type CommandResult } from './command.js';
import { isNotFound, runtimeFailure } from './runtime-errors.js';
import type { LinuxResources } from './spec/oci-types.js';

/** Status values of the OCI runtime state (runtime-spec "state" operation). */
export type RuntimeStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface RuntimeState {
  id: string;
  status: RuntimeStatus;
  /** Init process pid on the host; 0 once stopped. */
  pid: number;
  bundle: string;
  /** RFC 3339 creation time as reported by the runtime, when it reports one. */
  created?: string;
  annotations?: Record<string, string>;
}

export interface DeleteOptions {
  /** Kill the container first if it is still running (`delete --force`). */
  force?: boolean;
}

/**
 * One OCI runtime binary (runc, crun): the low-level lifecycle verbs berth
 * needs once a monitor (conmon) has created the container.
 */
export interface OciRuntime {
  /** Short name for messages and handler lookup ("runc", "crun"). */
  readonly name: string;
  /** Path of the runtime binary as configured. */
  readonly path: string;
  /** Its state directory (`--root`). */
  readonly root: string;
  readonly systemdCgroup: boolean;
  /** Global flags a monitor must put before the runtime's subcommand. */
  globalArgs(): string[];
  /** The container's state, or undefined when the runtime does not know it. */
  state(id: string): Promise<RuntimeState | undefined>;
  start(id: string): Promise<void>;
  kill(id: string, signal: NodeJS.Signals | number, all?: boolean): Promise<void>;
  /** Deleting an unknown container succeeds: removal is idempotent. */
  delete(id: string, options?: DeleteOptions): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  update(id: string, resources: LinuxResources): Promise<void>;
  list(): Promise<RuntimeState[]>;
}

export interface RuncRuntimeOptions {
  /** Binary name or path (default "runc"); crun takes the same CLI. */
  path?: string;
  /** State directory passed as `--root`. */
  root: string;
  systemdCgroup?: boolean;
  /** Per-invocation limit (default 60 s). */
  timeoutMs?: number;
}

const STATUSES: ReadonlySet<string> = new Set<RuntimeStatus>(['creating', 'created', 'running', 'paused', 'stopped']);
// Container ids become directory names under --root; keep them to what runc itself accepts.
const VALID_ID = /^[\w+\-.]+$/;

/** Drives runc (or crun, same command line) through its CLI. */
export class RuncRuntime implements OciRuntime {
  readonly name: string;
  readonly path: string;
  readonly root: string;
  readonly systemdCgroup: boolean;
  private readonly timeoutMs: number | undefined;

  constructor(options: RuncRuntimeOptions) {
    this.path = options.path ?? 'runc';
    this.name = basename(this.path);
    this.root = options.root;
    this.systemdCgroup = options.systemdCgroup ?? false;
    this.timeoutMs = options.timeoutMs;
  }

  globalArgs(): string[] {
    const args = [`--root=${this.root}`, '--log-format=json'];
    if (this.systemdCgroup) args.push('--systemd-cgroup');
    return args;
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    checkId(id);
    try {
      const { stdout } = await this.invoke('state', id, ['state', id]);
      return parseState(stdout, `${this.name} state ${id}`);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async start(id: string): Promise<void> {
    checkId(id);
    await this.invoke('start', id, ['start', id]);
  }

  async kill(id: string, signal: NodeJS.Signals | number, all = false): Promise<void> {
    checkId(id);
    const args = ['kill'];
    if (all) args.push('--all');
    args.push(id, String(signal));
    await this.invoke('kill', id, args);
  }

  async delete(id: string, options: DeleteOptions = {}): Promise<void> {
    checkId(id);
    const args = ['delete'];
    if (options.force) args.push('--force');
    args.push(id);
    try {
      await this.invoke('delete', id, args);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async pause(id: string): Promise<void> {
    checkId(id);
    await this.invoke('pause', id, ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    checkId(id);
    await this.invoke('resume', id, ['resume', id]);
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    checkId(id);
    await this.invoke('update', id, ['update', '--resources', '-', id], JSON.stringify(resources));
  }

  async list(): Promise<RuntimeState[]> {
    const { stdout } = await this.invoke('list', '', ['list', '--format', 'json']);
    const trimmed = stdout.trim();
    // runc prints "null" when it has no containers.
    if (trimmed === '' || trimmed === 'null') return [];
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed)) throw new Error(`${this.name} list printed something other than a JSON array: ${trimmed.slice(0, 200)}`);
    return parsed.map((entry) => toState(entry, `${this.name} list`));
  }

  private async invoke(verb: string, id: string, args: string[], input?: string): Promise<CommandResult> {
    const argv = [...this.globalArgs(), ...args];
    const result = await runCommand(this.path, argv, { input, timeoutMs: this.timeoutMs });
    if (result.exitCode !== 0) {
      throw runtimeFailure(this.name, verb, id, [this.path, ...argv], result.exitCode, result.stderr);
    }
    return result;
  }
}

function checkId(id: string): void {
  if (!VALID_ID.test(id)) throw new InvalidArgumentError(`invalid container id ${JSON.stringify(id)}: use letters, digits, '_', '+', '-' and '.'`);
}

function parseState(stdout: string, what: string): RuntimeState {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch (err) {
    throw new Error(`${what} printed invalid JSON: ${stdout.slice(0, 200)}`, { cause: err });
  }
  return toState(value, what);
}

function toState(value: unknown, what: string): RuntimeState {
  if (typeof value !== 'object' || value === null) throw new Error(`${what}: expected a JSON object, got ${JSON.stringify(value)}`);
  const record = value as Record<string, unknown>;
  const { id, status, pid, bundle } = record;
  if (typeof id !== 'string' || typeof status !== 'string' || !STATUSES.has(status)) {
    throw new Error(`${what}: unexpected state ${JSON.stringify(value).slice(0, 200)}`);
  }
  const state: RuntimeState = {
    id,
    status: status as RuntimeStatus,
    pid: typeof pid === 'number' ? pid : 0,
    bundle: typeof bundle === 'string' ? bundle : '',
  };
  if (typeof record.created === 'string') state.created = record.created;
  if (typeof record.annotations === 'object' && record.annotations !== null) {
    state.annotations = Object.fromEntries(
      Object.entries(record.annotations as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
  }
  return state;
}
