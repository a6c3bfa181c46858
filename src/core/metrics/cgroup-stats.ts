import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupLayout } from '../cgroups/detect.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import {
  parseCgroupMounts,
  parsePids,
  parseProcCgroup,
  parseV1Cpu,
  parseV1Memory,
  parseV2Cpu,
  parseV2Memory,
  resolveCgroupsPath,
  type CgroupMounts,
  type CgroupStats,
  type CpuStats,
  type MemoryStats,
  type PidsStats,
} from './cgroup-parsers.js';

export type { CgroupStats, CpuStats, MemoryStats, PidsStats } from './cgroup-parsers.js';

/** Wall-clock nanoseconds since the epoch (microsecond resolution, monotonic within the process). */
export function nowNanos(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

export interface CgroupStatsReaderOptions {
  /** contents of /proc/self/mounts; read from the host when omitted */
  mountsText?: string;
  /** where /proc is; tests point it elsewhere */
  procRoot?: string;
  clock?: () => bigint;
}

/** v1 controllers mounted and a cgroup2 tree too (at /sys/fs/cgroup/unified) is the hybrid layout. */
export function layoutOf(mounts: CgroupMounts): CgroupLayout {
  if (mounts.v1.size === 0 && mounts.v2 !== undefined) return 'v2';
  return mounts.v2 === undefined ? 'v1' : 'hybrid';
}

/** A v1 controller name, or the unified hierarchy. */
type Hierarchy = { kind: 'v1'; controller: string } | { kind: 'v2' };

/** Where one resource is read from, per the layout detected at start. */
interface ResourceSources {
  cpu?: Hierarchy;
  memory?: Hierarchy;
  pids?: Hierarchy;
}

/**
 * Reads a container's or pod's resource usage from its cgroup. The layout
 * (pure v1, hybrid, pure v2) is detected once; each resource is read from its
 * v1 controller when that controller is mounted, else from the unified tree.
 */
export class CgroupStatsReader {
  readonly layout: CgroupLayout;
  readonly mounts: CgroupMounts;
  private readonly sources: ResourceSources;
  private readonly procRoot: string;
  private readonly clock: () => bigint;

  constructor(options: CgroupStatsReaderOptions = {}) {
    const mountsText = options.mountsText ?? readFileSync('/proc/self/mounts', 'utf8');
    this.mounts = parseCgroupMounts(mountsText);
    this.layout = layoutOf(this.mounts);
    this.procRoot = options.procRoot ?? '/proc';
    this.clock = options.clock ?? nowNanos;
    this.sources = {
      cpu: this.pick('cpuacct'),
      memory: this.pick('memory'),
      pids: this.pick('pids'),
    };
  }

  private pick(controller: string): Hierarchy | undefined {
    if (this.mounts.v1.has(controller)) return { kind: 'v1', controller };
    if (this.mounts.v2 !== undefined) return { kind: 'v2' };
    return undefined;
  }

  /**
   * Stats of the cgroup at a runc cgroupsPath: a cgroupfs path
   * ("/kubepods/…/<id>") or a systemd one ("slice:prefix:name").
   */
  async byPath(cgroupsPath: string): Promise<CgroupStats> {
    const path = resolveCgroupsPath(cgroupsPath);
    return this.read(() => path, cgroupsPath);
  }

  /** Stats of the cgroups a process is in, per /proc/<pid>/cgroup. */
  async byPid(pid: number): Promise<CgroupStats> {
    if (!Number.isInteger(pid) || pid <= 0) throw new InvalidArgumentError(`pid must be a positive integer, got ${pid}`);
    const text = await readOptional(join(this.procRoot, String(pid), 'cgroup'));
    if (text === undefined) throw new NotFoundError(`process ${pid} does not exist (did the container exit?)`);
    const paths = parseProcCgroup(text);
    return this.read((h) => (h.kind === 'v1' ? paths.v1.get(h.controller) : paths.v2), `pid ${pid}`);
  }

  private dirOf(h: Hierarchy, path: string): string {
    const mount = h.kind === 'v1' ? this.mounts.v1.get(h.controller) : this.mounts.v2;
    // Both are set when the hierarchy was picked; the fallback is unreachable.
    return join(mount ?? '/nonexistent', path);
  }

  private async read(pathIn: (h: Hierarchy) => string | undefined, what: string): Promise<CgroupStats> {
    const dirFor = (h: Hierarchy | undefined): string | undefined => {
      if (h === undefined) return undefined;
      const path = pathIn(h);
      return path === undefined ? undefined : this.dirOf(h, path);
    };
    const cpuDir = dirFor(this.sources.cpu);
    const memoryDir = dirFor(this.sources.memory);
    const pidsDir = dirFor(this.sources.pids);
    const dirs = [cpuDir, memoryDir, pidsDir].filter((d): d is string => d !== undefined);
    const existing = await Promise.all(dirs.map(isDirectory));
    if (!existing.some(Boolean)) {
      throw new NotFoundError(`cgroup of ${what} not found (looked in ${dirs.join(', ') || 'no mounted hierarchy'}); the container may have been removed`);
    }
    const timestamp = this.clock();
    const [cpu, memory, pids] = await Promise.all([
      cpuDir === undefined ? undefined : readCpu(this.sources.cpu!, cpuDir),
      memoryDir === undefined ? undefined : readMemory(this.sources.memory!, memoryDir),
      pidsDir === undefined ? undefined : readPids(pidsDir),
    ]);
    const stats: CgroupStats = { timestamp };
    if (cpu !== undefined) stats.cpu = cpu;
    if (memory !== undefined) stats.memory = memory;
    if (pids !== undefined) stats.pids = pids;
    return stats;
  }
}

async function readCpu(h: Hierarchy, dir: string): Promise<CpuStats | undefined> {
  if (h.kind === 'v1') {
    const [usage, stat] = await Promise.all([readOptional(join(dir, 'cpuacct.usage')), readOptional(join(dir, 'cpuacct.stat'))]);
    return usage === undefined ? undefined : parseV1Cpu(usage, stat);
  }
  const stat = await readOptional(join(dir, 'cpu.stat'));
  return stat === undefined ? undefined : parseV2Cpu(stat);
}

async function readMemory(h: Hierarchy, dir: string): Promise<MemoryStats | undefined> {
  if (h.kind === 'v1') {
    const [usage, stat, limit] = await Promise.all([
      readOptional(join(dir, 'memory.usage_in_bytes')),
      readOptional(join(dir, 'memory.stat')),
      readOptional(join(dir, 'memory.limit_in_bytes')),
    ]);
    if (usage === undefined || stat === undefined) return undefined;
    return parseV1Memory(limit === undefined ? { usage, stat } : { usage, stat, limit });
  }
  // memory.current exists only where the memory controller is enabled for this cgroup.
  const [current, stat, max] = await Promise.all([
    readOptional(join(dir, 'memory.current')),
    readOptional(join(dir, 'memory.stat')),
    readOptional(join(dir, 'memory.max')),
  ]);
  if (current === undefined || stat === undefined) return undefined;
  return parseV2Memory(max === undefined ? { current, stat } : { current, stat, max });
}

async function readPids(dir: string): Promise<PidsStats | undefined> {
  const [current, max] = await Promise.all([readOptional(join(dir, 'pids.current')), readOptional(join(dir, 'pids.max'))]);
  return current === undefined ? undefined : parsePids(current, max);
}

/** A cgroup file, or undefined when it (or its cgroup) is gone. */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENODEV: the cgroup was removed between opening and reading.
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
