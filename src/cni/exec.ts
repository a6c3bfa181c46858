/**
 * Running one CNI plugin binary: locating it in the bin dirs, the CNI_*
 * environment, config on stdin, result or error on stdout.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { spawnChild } from '../core/sys/spawn.js';
import { CniPluginError, CniPluginNotFoundError } from './errors.js';
import type { JsonObject, RuntimeArgs } from './types.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** Returns the path of the first executable `<dir>/<type>` in `binDirs`, in order. */
export function findPlugin(type: string, binDirs: readonly string[]): string {
  for (const dir of binDirs) {
    const candidate = path.join(dir, type);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir; try the next
    }
  }
  throw new CniPluginNotFoundError(type, binDirs);
}

/** Formats CNI_ARGS: `K=V;K=V`. Values may not contain the separators. */
export function formatCniArgs(args: ReadonlyArray<readonly [string, string]>): string {
  for (const [key, value] of args) {
    if (/[;=]/.test(key) || value.includes(';')) {
      throw new Error(`CNI_ARGS entry ${key}=${value} contains ';' or '=' where it may not`);
    }
  }
  return args.map(([key, value]) => `${key}=${value}`).join(';');
}

export interface PluginInvocation {
  /** Plugin type, for messages. */
  type: string;
  pluginPath: string;
  command: CniCommand;
  network: string;
  runtime: RuntimeArgs;
  binDirs: readonly string[];
  /** The complete stdin config. */
  stdin: JsonObject;
  timeoutMs: number;
}

/**
 * Runs the plugin and returns its parsed stdout (ADD) or undefined (DEL,
 * CHECK, or an empty stdout). Failures become CniPluginError naming the plugin.
 */
export async function execPlugin(inv: PluginInvocation): Promise<JsonObject | undefined> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.runtime.containerId,
    CNI_NETNS: inv.runtime.netnsPath,
    CNI_IFNAME: inv.runtime.ifName,
    CNI_PATH: inv.binDirs.join(path.delimiter),
    CNI_ARGS: formatCniArgs(inv.runtime.args),
  };
  const fail = (code: number | undefined, msg: string, details?: string): CniPluginError =>
    new CniPluginError(inv.type, inv.command, inv.network, code, msg, details);

  const { exitCode, signal, stdout, stderr, spawnError, timedOut } = await spawnCollect(
    inv.pluginPath,
    env,
    JSON.stringify(inv.stdin),
    inv.timeoutMs,
  );
  if (spawnError) throw fail(undefined, `cannot run ${inv.pluginPath}: ${spawnError.message}`);
  if (timedOut) throw fail(undefined, `no answer within ${inv.timeoutMs} ms; killed`);

  const out = stdout.trim();
  if (exitCode !== 0) {
    const parsed = tryParseObject(out);
    if (parsed && typeof parsed.msg === 'string') {
      const details = typeof parsed.details === 'string' && parsed.details !== '' ? parsed.details : undefined;
      throw fail(typeof parsed.code === 'number' ? parsed.code : undefined, parsed.msg, details);
    }
    const how = signal ? `killed by ${signal}` : `exit status ${exitCode}`;
    const text = [out, stderr.trim()].filter((s) => s !== '').join(' / ');
    throw fail(undefined, text ? `${how}: ${text}` : how);
  }
  if (out === '') return undefined;
  const parsed = tryParseObject(out);
  if (!parsed) throw fail(undefined, `printed something that is not a JSON object: ${out.slice(0, 200)}`);
  return parsed;
}

interface Collected {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError?: Error;
  timedOut: boolean;
}

function spawnCollect(file: string, env: NodeJS.ProcessEnv, input: string, timeoutMs: number): Promise<Collected> {
  return new Promise((resolve) => {
    const child = spawnChild(file, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // A plugin that exits without reading stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        spawnError,
        timedOut,
      });
    });
    child.stdin.end(input);
  });
}

function tryParseObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}
