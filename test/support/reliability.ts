/**
 * Shared pieces of the reliability tests (test/reliability): a node whose
 * pods all live under one cgroup parent so its leaks can be found, a seeded
 * PRNG, kill -9 and restart of berthd, and the summary line the suite prints.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { podConfig, removeAllPods, startNode, type NodeOptions, type TestNode } from './cluster.js';
import { startDaemon } from './daemon.js';
import { formatLeaks, leakCount, netnsNames, removeCgroupParent, sweepLeaks, type LeakScope } from './leaks.js';

export interface ReliabilityNode {
  node: TestNode;
  scope: LeakScope;
  /** A pod config (unique name) placed under the node's cgroup parent. */
  pod(overrides?: Record<string, unknown>): ReturnType<typeof podConfig>;
  /** kill -9 of berthd, then a new berthd on the same root and state. */
  crashAndRestart(): Promise<void>;
  /** The output of every berthd the node ran so far, each start marked. */
  daemonLogs(): string;
  stop(): Promise<void>;
}

export async function startReliabilityNode(options: NodeOptions): Promise<ReliabilityNode> {
  const netnsBaseline = netnsNames();
  const cgroupParent = `/berth-reliability-${options.netIndex}`;
  const node = await startNode(options);
  const scope: LeakScope = {
    root: node.daemon.dirs.root,
    state: node.daemon.dirs.state,
    bridge: node.bridge,
    subnet: node.subnet,
    // startNode puts host-local's dataDir beside the log directory; the network is berth-test-<netIndex>.
    ipamDir: join(dirname(node.logDir), 'ipam', `berth-test-${options.netIndex}`),
    cgroupParent,
    netnsBaseline,
  };
  const previousLogs: string[] = [];
  return {
    node,
    scope,
    daemonLogs: () => [...previousLogs, node.daemon.output()].map((log, i) => `--- berthd #${i + 1}\n${log}`).join(''),
    pod: (overrides = {}) => podConfig(node, { linux: { cgroup_parent: cgroupParent }, ...overrides }),
    crashAndRestart: async () => {
      const old = node.daemon;
      old.process.kill('SIGKILL');
      await old.exited;
      old.cri.close();
      previousLogs.push(`${old.output()}--- killed\n`);
      node.daemon = await startDaemon({ dirs: old.dirs });
    },
    stop: async () => {
      await removeAllPods(node.daemon).catch(() => undefined);
      await node.daemon.stop();
      const swept = await sweepLeaks(scope);
      if (leakCount(swept) > 0) process.stderr.write(`swept what the test left behind (berth leaked or the test failed):\n${formatLeaks(swept)}\n`);
      await node.stop();
      removeCgroupParent(cgroupParent);
    },
  };
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from `$name` when set (to replay a run), else a fresh one. */
export function seedFromEnv(name: string): number {
  const fromEnv = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isFinite(fromEnv) ? fromEnv : Math.floor(Math.random() * 2 ** 31);
}

/** True while `pid` runs (zombies, which nobody may reap here, count as gone). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A container that ignores SIGTERM, so StopContainer waits its whole timeout before SIGKILL. */
export const STUBBORN_COMMAND = ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'];

/** The line each reliability file ends with (collected by the suite's summary). */
export function printSummary(file: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  process.stdout.write(`reliability: ${file}: ${text}\n`);
}
