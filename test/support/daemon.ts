import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectCri, type CriClients } from '../../src/client/cri-client.js';
import { BERTHD_NODE_FLAGS } from '../../src/daemon/node-flags.js';
import { waitUntil } from './wait.js';

/** The repository root, found from the compiled test file (dist/test/support). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const BERTHD = join(REPO_ROOT, 'dist', 'src', 'bin', 'berthd.js');
export const BERTHCTL = join(REPO_ROOT, 'dist', 'src', 'bin', 'berthctl.js');

export interface DaemonOptions {
  /** Extra TOML appended to the generated config file. */
  configToml?: string;
  /** Reuse directories (a restart of the same node). */
  dirs?: DaemonDirs;
  extraArgs?: string[];
}

export interface DaemonDirs {
  base: string;
  root: string;
  state: string;
  socket: string;
  configPath: string;
}

export interface TestDaemon {
  dirs: DaemonDirs;
  process: ChildProcess;
  cri: CriClients;
  /** Everything berthd wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Removes the directories (after stop). */
  cleanup(): Promise<void>;
}

export async function makeDaemonDirs(configToml = ''): Promise<DaemonDirs> {
  const base = await mkdtemp(join(tmpdir(), 'berth-test-'));
  const dirs = {
    base,
    root: join(base, 'root'),
    state: join(base, 'state'),
    socket: join(base, 'state', 'berth.sock'),
    configPath: join(base, 'berth.toml'),
  };
  await writeFile(dirs.configPath, configToml);
  return dirs;
}

/** Runs berthd to completion (for startup failures): exit code and output. */
export function runBerthd(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...BERTHD_NODE_FLAGS, BERTHD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`berthd ${args.join(' ')} did not exit: ${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

/** Starts berthd on private directories and waits until its socket answers. */
export async function startDaemon(options: DaemonOptions = {}): Promise<TestDaemon> {
  const dirs = options.dirs ?? (await makeDaemonDirs(options.configToml));
  const args = [
    ...BERTHD_NODE_FLAGS,
    BERTHD,
    '--config', dirs.configPath,
    '--root', dirs.root,
    '--state', dirs.state,
    '--address', dirs.socket,
    '--log-level', 'debug',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((res) => child.on('exit', (code, signal) => res(code ?? signal ?? -1)));
  let dead = false;
  void exited.then(() => (dead = true));
  await waitUntil(() => dead || /berthd serving CRI/.test(output), () => `berthd to start: ${output}`, { intervalMs: 25 });
  if (dead) throw new Error(`berthd exited during startup: ${output}`);
  const cri = connectCri(dirs.socket, 60_000);
  const daemon: TestDaemon = {
    dirs,
    process: child,
    cri,
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      cri.close();
      if (!dead) child.kill(signal);
      return exited;
    },
    cleanup: async () => {
      await rm(dirs.base, { recursive: true, force: true });
    },
  };
  return daemon;
}

export function resolveInRepo(...parts: string[]): string {
  return resolve(REPO_ROOT, ...parts);
}
