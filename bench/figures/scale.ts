/**
 * Figures 4 and 5 share one populated node: N pods of pause + 2 busybox
 * containers. Figure 4 times the list/status calls; figure 5 reads memory and the
 * daemon's CPU under a kubelet-like relist once a second.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addLatency, addValue, emptyRun, type FigureRun } from '../measures.js';
import { podConfig, removePod, runPod, startSleeper } from '../pods.js';
import { cpuSeconds, idleNodeRssKiB, monitorMemory, rssKiB } from '../proc.js';
import { withReplayServer } from '../replay-floor.js';
import { berthdNodeArgs, type RuntimeUnderTest } from '../runtimes.js';
import type { BenchSettings } from '../settings.js';
import { mapLimit, nowMs, timeSequential } from '../stats.js';

export interface PopulatedNode {
  podIds: string[];
  containerIds: string[];
  setupMs: number;
}

/** Starts the pods, a few at a time (as a kubelet's pod workers would). */
export async function populate(rt: RuntimeUnderTest, pods: number): Promise<PopulatedNode> {
  const t0 = nowMs();
  const podIds: string[] = [];
  const containerIds: string[] = [];
  await mapLimit(Array.from({ length: pods }, (_, i) => i), 4, async () => {
    const config = podConfig(rt, 'scale');
    const id = await runPod(rt, config);
    podIds.push(id);
    for (const name of ['a', 'b']) containerIds.push(await startSleeper(rt, id, config, name));
  });
  return { podIds, containerIds, setupMs: nowMs() - t0 };
}

export async function depopulate(rt: RuntimeUnderTest, node: PopulatedNode): Promise<void> {
  await mapLimit(node.podIds, 4, (id) => removePod(rt, id));
}

export async function listFigure(rt: RuntimeUnderTest, settings: BenchSettings, node: PopulatedNode): Promise<FigureRun> {
  const run = emptyRun();
  const { runtime } = rt.cri;
  const listed = await runtime.ListContainers({ filter: { state: { state: 'CONTAINER_RUNNING' } } });
  const running = listed.containers.filter((c) => node.containerIds.includes(c.id)).length;
  if (running !== node.containerIds.length) throw new Error(`${rt.name}: ${running} of ${node.containerIds.length} containers are running`);
  const n = node.podIds.length;
  const c = node.containerIds.length;
  addValue(run, 'populate.wall', `start ${n} pods + ${c} containers (4 at a time), wall time`, 'ms', node.setupMs);
  addLatency(run, 'list.containers', `ListContainers (${c} running)`, await timeSequential(settings.listCalls, () => runtime.ListContainers({})));
  addLatency(run, 'list.sandboxes', `ListPodSandbox (${n} ready)`, await timeSequential(settings.listCalls, () => runtime.ListPodSandbox({})));
  addLatency(
    run,
    'status.container',
    'ContainerStatus',
    await timeSequential(settings.listCalls, (i) => runtime.ContainerStatus({ container_id: node.containerIds[i % c]!, verbose: false })),
  );
  await replayFloor(rt, settings, node, run);
  return run;
}

/** The same three calls against a server replaying this daemon's responses and doing nothing else. */
async function replayFloor(rt: RuntimeUnderTest, settings: BenchSettings, node: PopulatedNode, run: FigureRun): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'berth-bench-replay-'));
  const calls = [
    { method: 'ListContainers', request: {} },
    { method: 'ListPodSandbox', request: {} },
    { method: 'ContainerStatus', request: { container_id: node.containerIds[0]!, verbose: false } },
  ];
  try {
    await withReplayServer(rt.socket, workDir, calls, async ({ runtime }) => {
      const floorLabel = "floor: the same call against a server replaying this daemon's response bytes (node:http2, no work):";
      addLatency(run, 'floor.list.containers', `${floorLabel} ListContainers`, await timeSequential(settings.listCalls, () => runtime.ListContainers({})));
      addLatency(run, 'floor.list.sandboxes', `${floorLabel} ListPodSandbox`, await timeSequential(settings.listCalls, () => runtime.ListPodSandbox({})));
      addLatency(run, 'floor.status.container', `${floorLabel} ContainerStatus`, await timeSequential(settings.listCalls, () => runtime.ContainerStatus({ container_id: node.containerIds[0]!, verbose: false })));
    });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Daemon RSS before any pod: measured right after start and image pulls. */
export async function idleMemory(rt: RuntimeUnderTest): Promise<number> {
  return rssKiB(rt.pid);
}

async function relist(rt: RuntimeUnderTest): Promise<void> {
  const { runtime } = rt.cri;
  await runtime.ListPodSandbox({});
  const { containers } = await runtime.ListContainers({});
  for (const c of containers) await runtime.ContainerStatus({ container_id: c.id, verbose: false });
}

export async function memoryFigure(rt: RuntimeUnderTest, settings: BenchSettings, node: PopulatedNode, idleKiB: number | undefined): Promise<FigureRun> {
  const run = emptyRun();
  const n = node.podIds.length;
  if (idleKiB !== undefined) addValue(run, 'rss.idle', 'daemon RSS, idle (images pulled, no pods)', 'MiB', idleKiB / 1024);
  if (rt.name === 'berth') addValue(run, 'rss.floor', "floor: RSS of an idle node process with berthd's node flags, no code loaded", 'MiB', (await idleNodeRssKiB(berthdNodeArgs())) / 1024);
  addValue(run, 'rss.loaded', `daemon RSS with ${n} pods (${node.containerIds.length} containers)`, 'MiB', (await rssKiB(rt.pid)) / 1024);
  const monitors = await monitorMemory(rt.isMonitor);
  run.detail['monitor.process'] = rt.monitorName;
  run.detail['monitor.count'] = monitors.count;
  run.detail['monitor.avg_kib'] = monitors.averageKiB;
  run.detail['monitor.total_kib'] = monitors.totalKiB;
  addValue(run, 'monitor.count', `monitor processes for ${n} pods`, 'procs', monitors.count);
  addValue(run, 'monitor.avg', 'monitor RSS, average per process', 'MiB', monitors.averageKiB / 1024);
  addValue(run, 'monitor.perpod', 'monitor RSS, total per pod', 'MiB', monitors.totalKiB / 1024 / n);

  const window = settings.cpuWindowSeconds * 1000;
  const cpu0 = await cpuSeconds(rt.pid);
  const t0 = nowMs();
  // Monotonic microseconds, the clock of V8 CPU profiles: profile-top.js --window uses them.
  run.detail['cpu.window_start_us'] = Math.round(t0 * 1000);
  let relists = 0;
  const relistMs: number[] = [];
  while (nowMs() - t0 < window) {
    const tick = nowMs();
    await relist(rt);
    relistMs.push(nowMs() - tick);
    relists++;
    const wait = 1000 - (nowMs() - tick);
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, window - (nowMs() - t0))));
  }
  run.detail['cpu.window_end_us'] = Math.round(nowMs() * 1000);
  const elapsed = (nowMs() - t0) / 1000;
  const cpu = (await cpuSeconds(rt.pid)) - cpu0;
  run.detail['cpu.relists'] = relists;
  run.detail['cpu.elapsed_s'] = Math.round(elapsed * 100) / 100;
  addValue(run, 'cpu.relist', `daemon CPU seconds over ${settings.cpuWindowSeconds} s, relist every 1 s (${relists} relists)`, 's', cpu);
  addValue(run, 'cpu.percent', 'daemon CPU during the relist window', '% of one core', (cpu / elapsed) * 100);
  addLatency(run, 'relist', `one relist (ListPodSandbox + ListContainers + ${node.containerIds.length} ContainerStatus)`, relistMs);
  return run;
}
