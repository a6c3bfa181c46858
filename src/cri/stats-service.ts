import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NotFoundError } from '../core/errors.js';
import type { ContainerRecord, SandboxRecord } from '../core/metadata/records.js';
import { parseProcCgroup, type CgroupStats, type CpuStats, type MemoryStats } from '../core/metrics/cgroup-parsers.js';
import { CgroupStatsReader } from '../core/metrics/cgroup-stats.js';
import { CpuRateTracker } from '../core/metrics/cpu-rate.js';
import { podSandboxMetrics, type ContainerSample, type MetricLabels } from '../core/metrics/descriptors.js';
import { DiskUsageCache, type DiskUsage } from '../core/metrics/disk-usage.js';
import { defaultInterface, readNetworkStats, type InterfaceStats } from '../core/metrics/network-stats.js';
import type { ContainerStats } from '../gen/cri/runtime/v1/ContainerStats.js';
import type { CpuUsage } from '../gen/cri/runtime/v1/CpuUsage.js';
import type { FilesystemUsage } from '../gen/cri/runtime/v1/FilesystemUsage.js';
import type { MemoryUsage } from '../gen/cri/runtime/v1/MemoryUsage.js';
import type { NetworkInterfaceUsage } from '../gen/cri/runtime/v1/NetworkInterfaceUsage.js';
import type { NetworkUsage } from '../gen/cri/runtime/v1/NetworkUsage.js';
import type { PodSandboxMetrics } from '../gen/cri/runtime/v1/PodSandboxMetrics.js';
import type { PodSandboxStats } from '../gen/cri/runtime/v1/PodSandboxStats.js';
import type { UInt64Value } from '../gen/cri/runtime/v1/UInt64Value.js';
import { containerConfig } from './container-view.js';
import type { RuntimeServices } from './runtime-services.js';
import { sandboxConfig } from './sandbox-view.js';

export interface StatsServiceOptions {
  reader?: CgroupStatsReader;
  cpuRates?: CpuRateTracker;
  diskUsage?: DiskUsageCache;
  /** where /proc is; tests point it elsewhere */
  procRoot?: string;
}

/** What one read of a pod gives: its cgroup usage, network counters and running containers. */
interface PodSample {
  stats: CgroupStats | undefined;
  network: { timestamp: bigint; interfaces: InterfaceStats[] } | undefined;
  containers: { record: ContainerRecord; sample: ContainerSample }[];
}

const u64 = (value: bigint | number): UInt64Value => ({ value: (typeof value === 'bigint' ? value : BigInt(Math.max(0, Math.trunc(value)))).toString() });

/**
 * Turns cgroup, network and writable-layer readings into the CRI stats and
 * metrics messages. One instance lives as long as the daemon: it keeps the
 * previous CPU sample of every container and pod, so usage_nano_cores is the
 * rate between two successive polls (what the kubelet expects), and briefly
 * caches writable-layer walks.
 */
export class StatsService {
  readonly reader: CgroupStatsReader;
  private readonly cpuRates: CpuRateTracker;
  private readonly diskUsage: DiskUsageCache;
  private readonly procRoot: string;

  constructor(options: StatsServiceOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.reader = options.reader ?? new CgroupStatsReader({ procRoot: this.procRoot });
    this.cpuRates = options.cpuRates ?? new CpuRateTracker();
    this.diskUsage = options.diskUsage ?? new DiskUsageCache();
  }

  /** ContainerStats of one container; cpu and memory only while it runs. */
  async containerStats(rt: RuntimeServices, container: ContainerRecord): Promise<ContainerStats> {
    const sample = await this.sampleContainer(rt, container);
    return this.toContainerStats(rt, container, sample);
  }

  /** PodSandboxStats of a pod and its running containers. */
  async sandboxStats(rt: RuntimeServices, sandbox: SandboxRecord, containers: readonly ContainerRecord[]): Promise<PodSandboxStats> {
    const pod = await this.samplePod(rt, sandbox, containers);
    const config = sandboxConfig(sandbox);
    const stats = pod.stats;
    const network = pod.network === undefined ? undefined : toNetworkUsage(pod.network.timestamp, pod.network.interfaces);
    return {
      attributes: { id: sandbox.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
      linux: {
        cpu: stats?.cpu === undefined ? null : this.toCpuUsage(sandbox.id, stats.timestamp, stats.cpu),
        memory: stats?.memory === undefined ? null : toMemoryUsage(stats.timestamp, stats.memory),
        network: network ?? null,
        process: stats?.pids === undefined ? null : { timestamp: stats.timestamp.toString(), process_count: u64(stats.pids.current) },
        containers: pod.containers.map((c) => this.toContainerStats(rt, c.record, c.sample)),
      },
    };
  }

  /** One entry of ListPodSandboxMetrics: cAdvisor-style series for the pod and its running containers. */
  async sandboxMetrics(rt: RuntimeServices, sandbox: SandboxRecord, containers: readonly ContainerRecord[]): Promise<PodSandboxMetrics> {
    const pod = await this.samplePod(rt, sandbox, containers);
    const meta = sandboxConfig(sandbox).metadata;
    const podLabels: MetricLabels = {
      container: '',
      id: sandbox.id,
      image: '',
      name: sandbox.name,
      namespace: meta?.namespace ?? '',
      pod: meta?.name ?? '',
    };
    return podSandboxMetrics(sandbox.id, {
      labels: podLabels,
      ...(pod.stats === undefined ? {} : { pod: { stats: pod.stats } }),
      ...(pod.network === undefined ? {} : { network: pod.network }),
      containers: pod.containers.map(({ record, sample }) => ({
        id: record.id,
        labels: { ...podLabels, container: containerConfig(record).metadata?.name ?? '', id: record.id, image: record.imageRef, name: record.name },
        sample,
      })),
    });
  }

  /** Drops what is kept about a removed container or pod. */
  forget(id: string, writableLayer?: string): void {
    this.cpuRates.forget(id);
    if (writableLayer !== undefined) this.diskUsage.invalidate(writableLayer);
  }

  private async sampleContainer(rt: RuntimeServices, container: ContainerRecord): Promise<ContainerSample> {
    const [stats, layer] = await Promise.all([
      container.state === 'running' && container.pid > 0 ? this.readIfPresent(() => this.reader.byPid(container.pid)) : undefined,
      this.writableLayer(rt, container.id),
    ]);
    // A container that exited between the state check and the read has no cgroup: report no usage.
    const sample: ContainerSample = { stats: stats ?? { timestamp: 0n } };
    if (layer !== undefined) sample.writableLayer = { device: rt.snapshots.root, usage: layer };
    return sample;
  }

  private async samplePod(rt: RuntimeServices, sandbox: SandboxRecord, containers: readonly ContainerRecord[]): Promise<PodSample> {
    const running = containers.filter((c) => c.sandboxId === sandbox.id && c.state === 'running');
    const [stats, network, samples] = await Promise.all([
      this.podCgroupStats(sandbox, running),
      this.podNetwork(sandbox),
      Promise.all(running.map(async (record) => ({ record, sample: await this.sampleContainer(rt, record) }))),
    ]);
    return { stats, network, containers: samples };
  }

  /**
   * With a cgroup parent (what the kubelet always sets) the pod cgroup is
   * the parent of the pause container's cgroup and holds every container of
   * the pod. Without one, each container has a cgroup of its own at the
   * hierarchy's top, so the pod's usage is the sum of the pause process and
   * its running containers.
   */
  private async podCgroupStats(sandbox: SandboxRecord, running: readonly ContainerRecord[]): Promise<CgroupStats | undefined> {
    if (sandbox.pid <= 0) return undefined;
    const parent = sandboxConfig(sandbox).linux?.cgroup_parent ?? '';
    if (parent !== '') {
      const podPath = await this.podCgroupPath(sandbox.pid);
      if (podPath !== undefined) {
        const stats = await this.readIfPresent(() => this.reader.byPath(podPath));
        if (stats !== undefined) return stats;
      }
    }
    const pids = await this.onePidPerCgroup([sandbox.pid, ...running.map((c) => c.pid)]);
    const parts = await Promise.all(pids.map((pid) => this.readIfPresent(() => this.reader.byPid(pid))));
    return sumStats(parts.filter((s): s is CgroupStats => s !== undefined));
  }

  /** Processes that share a cgroup would be counted twice: keep the first of each. */
  private async onePidPerCgroup(pids: readonly number[]): Promise<number[]> {
    const seen = new Set<string>();
    const out: number[] = [];
    for (const pid of pids) {
      if (pid <= 0) continue;
      const text = await readFile(join(this.procRoot, String(pid), 'cgroup'), 'utf8').catch(() => undefined);
      if (text === undefined || seen.has(text)) continue;
      seen.add(text);
      out.push(pid);
    }
    return out;
  }

  /** The directory above the pause process's cgroup, in the memory (or unified) hierarchy. */
  private async podCgroupPath(pausePid: number): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.procRoot, String(pausePid), 'cgroup'), 'utf8');
    } catch {
      return undefined;
    }
    const paths = parseProcCgroup(text);
    const own = paths.v1.get('memory') ?? paths.v1.get('cpuacct') ?? paths.v2;
    if (own === undefined || own === '/' || dirname(own) === '/') return undefined;
    return dirname(own);
  }

  private async podNetwork(sandbox: SandboxRecord): Promise<PodSample['network']> {
    // A host-network pod has no interfaces of its own; the host's are not the pod's usage.
    if (sandbox.pid <= 0 || sandbox.netnsPath === '') return undefined;
    if (sandboxConfig(sandbox).linux?.security_context?.namespace_options?.network === 'NODE') return undefined;
    const timestamp = BigInt(Date.now()) * 1_000_000n;
    const interfaces = await this.readIfPresent(() => readNetworkStats(sandbox.pid, { procRoot: this.procRoot }));
    return interfaces === undefined ? undefined : { timestamp, interfaces };
  }

  private async writableLayer(rt: RuntimeServices, id: string): Promise<DiskUsage | undefined> {
    if (rt.snapshots.stat(id) === undefined) return undefined;
    return this.readIfPresent(() => this.diskUsage.get(rt.snapshots.layerDirs(id).upper), true);
  }

  /** The value, or undefined when what it reads is gone (the process exited, the layer was removed). */
  private async readIfPresent<T>(read: () => Promise<T>, missingFileToo = false): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      if (missingFileToo && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private toContainerStats(rt: RuntimeServices, container: ContainerRecord, sample: ContainerSample): ContainerStats {
    const config = containerConfig(container);
    const { stats, writableLayer } = sample;
    let layer: FilesystemUsage | null = null;
    if (writableLayer !== undefined) {
      layer = {
        timestamp: (BigInt(Date.now()) * 1_000_000n).toString(),
        fs_id: { mountpoint: rt.snapshots.root },
        used_bytes: u64(writableLayer.usage.bytes),
        inodes_used: u64(writableLayer.usage.inodes),
      };
    }
    return {
      attributes: { id: container.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
      cpu: stats.cpu === undefined ? null : this.toCpuUsage(container.id, stats.timestamp, stats.cpu),
      memory: stats.memory === undefined ? null : toMemoryUsage(stats.timestamp, stats.memory),
      writable_layer: layer,
    };
  }

  private toCpuUsage(id: string, timestamp: bigint, cpu: CpuStats): CpuUsage {
    const nanoCores = this.cpuRates.update(id, { timestamp, usageCoreNanoSeconds: cpu.usageCoreNanoSeconds });
    return {
      timestamp: timestamp.toString(),
      usage_core_nano_seconds: u64(cpu.usageCoreNanoSeconds),
      // The first sample of an id has no rate yet; absent (not zero) tells the kubelet so.
      usage_nano_cores: nanoCores === undefined ? null : u64(nanoCores),
    };
  }
}

function toMemoryUsage(timestamp: bigint, memory: MemoryStats): MemoryUsage {
  return {
    timestamp: timestamp.toString(),
    working_set_bytes: u64(memory.workingSetBytes),
    available_bytes: memory.availableBytes === undefined ? null : u64(memory.availableBytes),
    usage_bytes: u64(memory.usageBytes),
    rss_bytes: u64(memory.rssBytes),
    page_faults: u64(memory.pageFaults),
    major_page_faults: u64(memory.majorPageFaults),
  };
}

function toInterfaceUsage(i: InterfaceStats): NetworkInterfaceUsage {
  return { name: i.name, rx_bytes: u64(i.rxBytes), rx_errors: u64(i.rxErrors), tx_bytes: u64(i.txBytes), tx_errors: u64(i.txErrors) };
}

export function toNetworkUsage(timestamp: bigint, interfaces: readonly InterfaceStats[]): NetworkUsage {
  const main = defaultInterface(interfaces);
  return {
    timestamp: timestamp.toString(),
    default_interface: main === undefined ? null : toInterfaceUsage(main),
    interfaces: interfaces.filter((i) => i !== main).map(toInterfaceUsage),
  };
}

/**
 * Adds up cgroup readings of several processes' cgroups (a pod without a
 * cgroup parent). Limits do not add up, so the sum has none.
 */
export function sumStats(parts: readonly CgroupStats[]): CgroupStats | undefined {
  if (parts.length === 0) return undefined;
  const timestamp = parts.reduce((t, p) => (p.timestamp > t ? p.timestamp : t), 0n);
  const sum: CgroupStats = { timestamp };
  const cpus = parts.flatMap((p) => (p.cpu === undefined ? [] : [p.cpu]));
  if (cpus.length > 0) sum.cpu = { usageCoreNanoSeconds: cpus.reduce((a, c) => a + c.usageCoreNanoSeconds, 0n) };
  const memories = parts.flatMap((p) => (p.memory === undefined ? [] : [p.memory]));
  if (memories.length > 0) {
    const add = (pick: (m: MemoryStats) => number): number => memories.reduce((a, m) => a + pick(m), 0);
    sum.memory = {
      usageBytes: add((m) => m.usageBytes),
      workingSetBytes: add((m) => m.workingSetBytes),
      rssBytes: add((m) => m.rssBytes),
      pageFaults: add((m) => m.pageFaults),
      majorPageFaults: add((m) => m.majorPageFaults),
    };
  }
  const pids = parts.flatMap((p) => (p.pids === undefined ? [] : [p.pids]));
  if (pids.length > 0) sum.pids = { current: pids.reduce((a, p) => a + p.current, 0) };
  return sum;
}
