/**
 * The two runtimes under test, each started on private directories with its own
 * CNI bridge, and driven through the same TypeScript CRI client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectCri, type CriClients } from '../src/client/cri-client.js';
import { runtimeRootDir } from '../src/core/runtime/task-service.js';
import { BERTHD_NODE_FLAGS } from '../src/daemon/node-flags.js';
import type { BenchEnvironment } from './environment.js';
import { PAUSE_IMAGE } from './environment.js';
import { output } from './machine.js';
import { listProcesses, type ProcInfo } from './proc.js';

export type RuntimeName = 'berth' | 'containerd';

export interface RuntimeUnderTest {
  name: RuntimeName;
  /** The daemon's pid (berthd's node process, or containerd). */
  pid: number;
  socket: string;
  cri: CriClients;
  version: string;
  /** The command line that started the daemon, for the report. */
  command: string;
  /** Directory for pod log directories. */
  logDir: string;
  /** runc's state directory (`--root`) for this daemon's containers. */
  runcRoot: string;
  /** Per-container (conmon) or per-pod (shim) monitor processes of this daemon. */
  isMonitor(p: ProcInfo): boolean;
  monitorName: string;
  /** Removes every pod, stops the daemon and removes its files and bridge. */
  stop(): Promise<void>;
}

export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();
/** Always the project's main build, whatever directory this file was compiled to. */
export const BERTHD = join(REPO_ROOT, 'dist', 'src', 'bin', 'berthd.js');
export const CNI_BIN = '/usr/lib/cni';

export interface NetworkPlan {
  bridge: string;
  subnet: string;
}

export const NETWORKS: Record<RuntimeName, NetworkPlan> = {
  berth: { bridge: 'bbench0', subnet: '10.238.0.0/22' },
  containerd: { bridge: 'cbench0', subnet: '10.237.0.0/22' },
};

async function writeConflist(dir: string, name: string, plan: NetworkPlan, ipamDir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const conflist = {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge: plan.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: plan.subnet }]], dataDir: ipamDir },
      },
      { type: 'loopback' },
    ],
  };
  await writeFile(join(dir, `10-${name}.conflist`), JSON.stringify(conflist, null, 2));
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitExit(child, 30_000))) {
    child.kill('SIGKILL');
    await waitExit(child, 10_000);
  }
}

async function waitReady(cri: CriClients, child: ChildProcess, logFile: string, what: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      const v = await cri.runtime.Version({ version: 'v1' }, 2_000);
      return `${v.runtime_name} ${v.runtime_version} (CRI ${v.runtime_api_version})`;
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const log = await readFile(logFile, 'utf8').catch(() => '');
  throw new Error(`${what} did not answer Version within 60 s (${lastError}); log tail:\n${log.slice(-3000)}`);
}

/** Removes every pod sandbox (and so its containers) through CRI. */
export async function removeAllPods(cri: CriClients): Promise<void> {
  const { items } = await cri.runtime.ListPodSandbox({});
  for (const pod of items) {
    await cri.runtime.StopPodSandbox({ pod_sandbox_id: pod.id }).catch(() => undefined);
    await cri.runtime.RemovePodSandbox({ pod_sandbox_id: pod.id }).catch(() => undefined);
  }
}

/** Kills leftover monitors of a stopped daemon by pid, unmounts what it left under `dir`, deletes the bridge. */
async function sweep(dir: string, isMonitor: (p: ProcInfo) => boolean, bridge: string): Promise<void> {
  for (const p of (await listProcesses()).filter(isMonitor)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(dir + '/'))
    .reverse();
  for (const m of mounts) await output('umount', ['-l', m]);
  await output('ip', ['link', 'del', bridge]);
}

/** berthd's node flags, and for experiments any in BERTH_NODE_ARGS (e.g. "--trace-gc"). */
export function berthdNodeArgs(): string[] {
  return [...BERTHD_NODE_FLAGS, ...(process.env['BERTH_NODE_ARGS']?.split(/\s+/).filter(Boolean) ?? [])];
}

export interface StartOptions {
  env: BenchEnvironment;
  /** Directory for berthd's V8 CPU profile (node --cpu-prof), if wanted. */
  cpuProfDir?: string;
}

export async function startBerth(options: StartOptions): Promise<RuntimeUnderTest> {
  const base = join(options.env.base, 'berth');
  const dirs = { root: join(base, 'root'), state: join(base, 'state'), netd: join(base, 'net.d'), logs: join(base, 'pods') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const plan = NETWORKS.berth;
  await writeConflist(dirs.netd, 'berth-bench', plan, join(base, 'ipam'));
  const configPath = join(base, 'berth.toml');
  const socket = join(dirs.state, 'berth.sock');
  await writeFile(
    configPath,
    [
      `sandbox_image = "${PAUSE_IMAGE}"`,
      'log_level = "info"',
      '[registry]',
      `config_path = "${options.env.certsDir}"`,
      '[cni]',
      `conf_dir = "${dirs.netd}"`,
      `bin_dirs = ["${CNI_BIN}"]`,
      '[metrics]',
      'address = ""',
      '',
    ].join('\n'),
  );
  const profileArgs = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const args = [...berthdNodeArgs(), ...profileArgs, BERTHD, '--config', configPath, '--root', dirs.root, '--state', dirs.state, '--address', socket, '--log-level', 'info'];
  const logFile = join(base, 'berthd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const cri = connectCri(socket, 120_000);
  const isMonitor = (p: ProcInfo): boolean => p.comm === 'conmon' && p.cmdline.some((a) => a.startsWith(dirs.state + '/') || a.startsWith(dirs.root + '/'));
  const stop = async (): Promise<void> => {
    await removeAllPods(cri).catch(() => undefined);
    cri.close();
    await stopChild(child);
    await sweep(base, isMonitor, plan.bridge);
    await rm(base, { recursive: true, force: true });
  };
  try {
    const version = await waitReady(cri, child, logFile, 'berthd');
    return {
      name: 'berth',
      pid: child.pid!,
      socket,
      cri,
      version,
      command: `node ${args.join(' ')}`,
      logDir: dirs.logs,
      runcRoot: runtimeRootDir(dirs.state, 'runc'),
      isMonitor,
      monitorName: 'conmon (one per container, incl. pause)',
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function startContainerd(options: StartOptions): Promise<RuntimeUnderTest> {
  const base = join(options.env.base, 'containerd');
  const dirs = { root: join(base, 'root'), state: join(base, 'state'), netd: join(base, 'net.d'), logs: join(base, 'pods'), opt: join(base, 'opt') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const plan = NETWORKS.containerd;
  await writeConflist(dirs.netd, 'containerd-bench', plan, join(base, 'ipam'));
  const socket = join(dirs.state, 'containerd.sock');
  const configPath = join(base, 'config.toml');
  const cri = '[plugins."io.containerd.grpc.v1.cri"]';
  await writeFile(
    configPath,
    [
      'version = 2',
      `root = "${dirs.root}"`,
      `state = "${dirs.state}"`,
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '[debug]',
      '  level = "info"',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dirs.opt}"`,
      cri,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      '  restrict_oom_score_adj = true',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `${cri.slice(0, -1)}.containerd]`,
      '  snapshotter = "overlayfs"',
      '  default_runtime_name = "runc"',
      `${cri.slice(0, -1)}.containerd.runtimes.runc]`,
      '  runtime_type = "io.containerd.runc.v2"',
      `${cri.slice(0, -1)}.cni]`,
      `  bin_dir = "${CNI_BIN}"`,
      `  conf_dir = "${dirs.netd}"`,
      `${cri.slice(0, -1)}.registry]`,
      `  config_path = "${options.env.certsDir}"`,
      '',
    ].join('\n'),
  );
  const logFile = join(base, 'containerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('containerd', ['--config', configPath], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const client = connectCri(socket, 120_000);
  const isMonitor = (p: ProcInfo): boolean => p.comm.startsWith('containerd-shim') && p.cmdline.includes(socket);
  const stop = async (): Promise<void> => {
    await removeAllPods(client).catch(() => undefined);
    client.close();
    await stopChild(child);
    await sweep(base, isMonitor, plan.bridge);
    await rm(base, { recursive: true, force: true });
    // containerd 1.6 puts shim sockets and runc state under a fixed /run/containerd: remove what is left empty.
    for (const dir of ['runc/k8s.io', 'runc', 's', '']) await rmdir(join('/run/containerd', dir)).catch(() => undefined);
  };
  try {
    const criVersion = await waitReady(client, child, logFile, 'containerd');
    const binary = await output('containerd', ['--version']);
    return {
      name: 'containerd',
      pid: child.pid!,
      socket,
      cri: client,
      version: `${criVersion}; ${binary}`,
      command: `containerd --config ${configPath}`,
      logDir: dirs.logs,
      // The runc shim's default root, under its namespace; the config's state dir does not move it.
      runcRoot: '/run/containerd/runc/k8s.io',
      isMonitor,
      monitorName: 'containerd-shim-runc-v2 (one per pod)',
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
