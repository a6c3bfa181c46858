/**
 * Pure parsers for the cgroup v1 and v2 files berth reads for container and
 * pod stats. They take file texts and return numbers; the reads live in
 * cgroup-stats.ts so every rule here can be tested with fixture texts.
 *
 * CPU counters and timestamps are bigint nanoseconds (they exceed 2^53 on a
 * long-lived host); byte and count values are plain numbers.
 */

export interface CpuStats {
  usageCoreNanoSeconds: bigint;
  usageUserNanoSeconds?: bigint;
  usageSystemNanoSeconds?: bigint;
}

export interface MemoryStats {
  usageBytes: number;
  /** usage minus inactive file pages, as cAdvisor and the kubelet compute it */
  workingSetBytes: number;
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
  /** limit minus working set; absent when the cgroup has no memory limit */
  availableBytes?: number;
  limitBytes?: number;
}

export interface PidsStats {
  current: number;
  limit?: number;
}

export interface CgroupStats {
  /** wall-clock time of the read, nanoseconds since the epoch */
  timestamp: bigint;
  /** each part is absent when its controller is not available for the cgroup */
  cpu?: CpuStats;
  memory?: MemoryStats;
  pids?: PidsStats;
}

/**
 * Limits at or above 2^62 mean "no limit": cgroup v1 reports unlimited as
 * the largest page-aligned int64 (the kubelet uses the same threshold).
 */
const UNLIMITED_THRESHOLD = 1n << 62n;

/** Linux reports cpuacct.stat in USER_HZ ticks, fixed at 100 per second on every architecture. */
const NANOS_PER_USER_HZ_TICK = 10_000_000n;

export class CgroupParseError extends Error {
  constructor(file: string, detail: string) {
    super(`cannot parse cgroup file ${file}: ${detail}`);
    this.name = 'CgroupParseError';
  }
}

function parseInteger(file: string, raw: string): bigint {
  const text = raw.trim();
  if (!/^-?\d+$/.test(text)) throw new CgroupParseError(file, `expected an integer, got ${JSON.stringify(text.slice(0, 40))}`);
  return BigInt(text);
}

/** A single-integer file such as cpuacct.usage or memory.current. */
export function parseSingleValue(file: string, text: string): bigint {
  return parseInteger(file, text);
}

/** A limit file: a number, or "max" (v2) / a huge number (v1) for no limit. */
export function parseLimit(file: string, text: string): bigint | undefined {
  const trimmed = text.trim();
  if (trimmed === 'max') return undefined;
  const value = parseInteger(file, trimmed);
  return value >= UNLIMITED_THRESHOLD || value < 0n ? undefined : value;
}

/** A flat-keyed file ("key value" per line): memory.stat, cpu.stat, cpuacct.stat. */
export function parseKeyedValues(file: string, text: string): Map<string, bigint> {
  const values = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const parts = trimmed.split(/\s+/);
    if (parts.length !== 2) throw new CgroupParseError(file, `expected "key value", got ${JSON.stringify(trimmed.slice(0, 60))}`);
    values.set(parts[0]!, parseInteger(file, parts[1]!));
  }
  return values;
}

function toNumber(value: bigint | undefined): number {
  return value === undefined ? 0 : Number(value);
}

function firstOf(values: Map<string, bigint>, ...keys: string[]): bigint | undefined {
  for (const key of keys) {
    const value = values.get(key);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** cgroup v1: cpuacct.usage (ns) and cpuacct.stat (user/system in USER_HZ ticks). */
export function parseV1Cpu(usageText: string, statText?: string): CpuStats {
  const stats: CpuStats = { usageCoreNanoSeconds: parseSingleValue('cpuacct.usage', usageText) };
  if (statText !== undefined) {
    const stat = parseKeyedValues('cpuacct.stat', statText);
    const user = stat.get('user');
    const system = stat.get('system');
    if (user !== undefined) stats.usageUserNanoSeconds = user * NANOS_PER_USER_HZ_TICK;
    if (system !== undefined) stats.usageSystemNanoSeconds = system * NANOS_PER_USER_HZ_TICK;
  }
  return stats;
}

/** cgroup v2: cpu.stat (usage_usec, user_usec, system_usec in microseconds). */
export function parseV2Cpu(statText: string): CpuStats {
  const stat = parseKeyedValues('cpu.stat', statText);
  const usage = stat.get('usage_usec');
  if (usage === undefined) throw new CgroupParseError('cpu.stat', 'no usage_usec line');
  const stats: CpuStats = { usageCoreNanoSeconds: usage * 1000n };
  const user = stat.get('user_usec');
  const system = stat.get('system_usec');
  if (user !== undefined) stats.usageUserNanoSeconds = user * 1000n;
  if (system !== undefined) stats.usageSystemNanoSeconds = system * 1000n;
  return stats;
}

/** Working set = usage - inactive file pages, never below zero. */
export function workingSet(usageBytes: bigint, inactiveFileBytes: bigint): bigint {
  return usageBytes > inactiveFileBytes ? usageBytes - inactiveFileBytes : 0n;
}

function memoryStats(usage: bigint, inactiveFile: bigint, rss: bigint, pgfault: bigint, pgmajfault: bigint, limit: bigint | undefined): MemoryStats {
  const ws = workingSet(usage, inactiveFile);
  const stats: MemoryStats = {
    usageBytes: Number(usage),
    workingSetBytes: Number(ws),
    rssBytes: Number(rss),
    pageFaults: Number(pgfault),
    majorPageFaults: Number(pgmajfault),
  };
  if (limit !== undefined) {
    stats.limitBytes = Number(limit);
    stats.availableBytes = Number(limit > ws ? limit - ws : 0n);
  }
  return stats;
}

export interface V1MemoryTexts {
  usage: string;
  stat: string;
  limit?: string;
}

/**
 * cgroup v1: memory.usage_in_bytes, memory.stat, memory.limit_in_bytes.
 * The hierarchical total_* keys are preferred so a pod cgroup includes its
 * containers; the local keys are the fallback on kernels without them.
 */
export function parseV1Memory(texts: V1MemoryTexts): MemoryStats {
  const usage = parseSingleValue('memory.usage_in_bytes', texts.usage);
  const stat = parseKeyedValues('memory.stat', texts.stat);
  const limit = texts.limit === undefined ? undefined : parseLimit('memory.limit_in_bytes', texts.limit);
  return memoryStats(
    usage,
    firstOf(stat, 'total_inactive_file', 'inactive_file') ?? 0n,
    firstOf(stat, 'total_rss', 'rss') ?? 0n,
    firstOf(stat, 'total_pgfault', 'pgfault') ?? 0n,
    firstOf(stat, 'total_pgmajfault', 'pgmajfault') ?? 0n,
    limit,
  );
}

export interface V2MemoryTexts {
  current: string;
  stat: string;
  max?: string;
}

/** cgroup v2: memory.current, memory.stat (inactive_file, anon, pgfault, pgmajfault), memory.max. */
export function parseV2Memory(texts: V2MemoryTexts): MemoryStats {
  const usage = parseSingleValue('memory.current', texts.current);
  const stat = parseKeyedValues('memory.stat', texts.stat);
  const limit = texts.max === undefined ? undefined : parseLimit('memory.max', texts.max);
  return memoryStats(
    usage,
    stat.get('inactive_file') ?? 0n,
    stat.get('anon') ?? 0n,
    stat.get('pgfault') ?? 0n,
    stat.get('pgmajfault') ?? 0n,
    limit,
  );
}

/** pids.current and pids.max (same format on v1 and v2). */
export function parsePids(currentText: string, maxText?: string): PidsStats {
  const stats: PidsStats = { current: toNumber(parseSingleValue('pids.current', currentText)) };
  const limit = maxText === undefined ? undefined : parseLimit('pids.max', maxText);
  if (limit !== undefined) stats.limit = Number(limit);
  return stats;
}

export interface CgroupMounts {
  /** v1 controller name (cpu, cpuacct, memory, pids, …) → its mount point */
  v1: Map<string, string>;
  /** the cgroup2 mount point, if any */
  v2?: string;
}

/**
 * Finds the cgroup mount points in /proc/self/mounts. A v1 hierarchy's
 * controllers are its super options (e.g. "rw,relatime,cpu,cpuacct").
 */
export function parseCgroupMounts(mountsText: string): CgroupMounts {
  const mounts: CgroupMounts = { v1: new Map() };
  const optionsThatAreNotControllers = new Set(['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'clone_children', 'xattr', 'noprefix']);
  for (const line of mountsText.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 4) continue;
    const mountPoint = unescapeMountPath(fields[1]!);
    const fsType = fields[2];
    if (fsType === 'cgroup2') {
      // With several cgroup2 mounts the one at the conventional place wins.
      if (mounts.v2 === undefined || mountPoint === '/sys/fs/cgroup' || mountPoint === '/sys/fs/cgroup/unified') mounts.v2 = mountPoint;
    } else if (fsType === 'cgroup') {
      for (const option of fields[3]!.split(',')) {
        if (optionsThatAreNotControllers.has(option) || option.includes('=')) continue;
        if (!mounts.v1.has(option)) mounts.v1.set(option, mountPoint);
      }
    }
  }
  return mounts;
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export interface ProcCgroupPaths {
  /** v1 controller name → cgroup path inside that hierarchy */
  v1: Map<string, string>;
  /** the path in the unified (v2) hierarchy, from the "0::" line */
  v2?: string;
}

/** Parses /proc/<pid>/cgroup ("id:controllers:path" per line). */
export function parseProcCgroup(text: string): ProcCgroupPaths {
  const paths: ProcCgroupPaths = { v1: new Map() };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) throw new CgroupParseError('/proc/<pid>/cgroup', `malformed line ${JSON.stringify(line)}`);
    const hierarchyId = line.slice(0, first);
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (hierarchyId === '0' && controllers === '') {
      paths.v2 = path;
      continue;
    }
    for (const controller of controllers.split(',')) {
      if (controller !== '' && !controller.startsWith('name=')) paths.v1.set(controller, path);
    }
  }
  return paths;
}

/**
 * Turns a runc cgroupsPath into a path inside the hierarchy. cgroupfs paths
 * ("/kubepods/burstable/pod…/<id>") are used as they are; systemd paths
 * ("slice:prefix:name") expand like runc's systemd driver does:
 * "kubepods-burstable-pod1.slice:cri-berth:abc" →
 * "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-berth-abc.scope".
 */
export function resolveCgroupsPath(cgroupsPath: string): string {
  if (cgroupsPath.startsWith('/') || !cgroupsPath.includes(':')) {
    return cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`;
  }
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) throw new CgroupParseError('cgroupsPath', `systemd cgroupsPath must be "slice:prefix:name", got ${JSON.stringify(cgroupsPath)}`);
  const [slice, prefix, name] = parts as [string, string, string];
  const unit = name.endsWith('.slice') ? name : `${prefix === '' ? '' : `${prefix}-`}${name}.scope`;
  return `${expandSlice(slice === '' ? '-.slice' : slice)}/${unit}`;
}

function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice')) throw new CgroupParseError('cgroupsPath', `systemd slice must end in ".slice", got ${JSON.stringify(slice)}`);
  if (slice === '-.slice') return '';
  const base = slice.slice(0, -'.slice'.length);
  const words = base.split('-');
  if (words.some((w) => w === '')) throw new CgroupParseError('cgroupsPath', `invalid systemd slice name ${JSON.stringify(slice)}`);
  let path = '';
  let prefix = '';
  for (const word of words) {
    prefix = prefix === '' ? word : `${prefix}-${word}`;
    path += `/${prefix}.slice`;
  }
  return path;
}
