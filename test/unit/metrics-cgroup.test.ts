import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NotFoundError } from '../../src/core/errors.js';
import {
  CgroupParseError,
  parseCgroupMounts,
  parseKeyedValues,
  parseLimit,
  parsePids,
  parseProcCgroup,
  parseV1Cpu,
  parseV1Memory,
  parseV2Cpu,
  parseV2Memory,
  resolveCgroupsPath,
  workingSet,
} from '../../src/core/metrics/cgroup-parsers.js';
import { CgroupStatsReader, layoutOf } from '../../src/core/metrics/cgroup-stats.js';

const MiB = 1024 * 1024;

const V1_MEMORY_STAT = `cache 13643776
rss 1683456
rss_huge 0
shmem 0
mapped_file 8192
pgfault 32747
pgmajfault 32
inactive_anon 1601536
active_anon 12288
inactive_file 634880
active_file 13008896
hierarchical_memory_limit 9223372036854771712
total_cache 27287552
total_rss 3366912
total_pgfault 65494
total_pgmajfault 64
total_inactive_file 1269760
total_active_file 26017792
`;

const V2_MEMORY_STAT = `anon 52822016
file 10485760
kernel 1048576
kernel_stack 65536
shmem 0
file_mapped 0
active_anon 52822016
inactive_anon 0
active_file 6291456
inactive_file 4194304
pgfault 14021
pgmajfault 3
workingset_refault_anon 0
`;

const V2_CPU_STAT = `usage_usec 2500123
user_usec 2000100
system_usec 500023
nr_periods 0
nr_throttled 0
throttled_usec 0
`;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

describe('cgroup file parsers', () => {
  it('parses v1 cpuacct.usage and cpuacct.stat ticks into nanoseconds', () => {
    const cpu = parseV1Cpu('123456789012\n', 'user 58512\nsystem 12492\n');
    assert.equal(cpu.usageCoreNanoSeconds, 123456789012n);
    assert.equal(cpu.usageUserNanoSeconds, 585_120_000_000n);
    assert.equal(cpu.usageSystemNanoSeconds, 124_920_000_000n);
    assert.equal(parseV1Cpu('5').usageUserNanoSeconds, undefined);
  });

  it('parses v2 cpu.stat microseconds into nanoseconds', () => {
    const cpu = parseV2Cpu(V2_CPU_STAT);
    assert.equal(cpu.usageCoreNanoSeconds, 2_500_123_000n);
    assert.equal(cpu.usageUserNanoSeconds, 2_000_100_000n);
    assert.equal(cpu.usageSystemNanoSeconds, 500_023_000n);
    assert.throws(() => parseV2Cpu('user_usec 1\n'), /no usage_usec/);
  });

  it('parses v1 memory using the hierarchical totals, working set = usage - inactive file', () => {
    const mem = parseV1Memory({ usage: `${64 * MiB}\n`, stat: V1_MEMORY_STAT, limit: '9223372036854771712\n' });
    assert.equal(mem.usageBytes, 64 * MiB);
    assert.equal(mem.workingSetBytes, 64 * MiB - 1269760);
    assert.equal(mem.rssBytes, 3366912);
    assert.equal(mem.pageFaults, 65494);
    assert.equal(mem.majorPageFaults, 64);
    assert.equal(mem.availableBytes, undefined, 'the v1 "unlimited" value means no limit');
    assert.equal(mem.limitBytes, undefined);
  });

  it('falls back to local v1 keys and computes available bytes under a limit', () => {
    const stat = 'rss 1000\ninactive_file 300\npgfault 7\npgmajfault 1\n';
    const mem = parseV1Memory({ usage: '2000', stat, limit: '5000' });
    assert.equal(mem.workingSetBytes, 1700);
    assert.equal(mem.rssBytes, 1000);
    assert.equal(mem.limitBytes, 5000);
    assert.equal(mem.availableBytes, 3300);
  });

  it('parses v2 memory files: anon is rss, inactive_file is subtracted, "max" is no limit', () => {
    const mem = parseV2Memory({ current: '63963136\n', stat: V2_MEMORY_STAT, max: 'max\n' });
    assert.equal(mem.usageBytes, 63963136);
    assert.equal(mem.workingSetBytes, 63963136 - 4194304);
    assert.equal(mem.rssBytes, 52822016);
    assert.equal(mem.pageFaults, 14021);
    assert.equal(mem.majorPageFaults, 3);
    assert.equal(mem.availableBytes, undefined);
    const limited = parseV2Memory({ current: '63963136\n', stat: V2_MEMORY_STAT, max: `${128 * MiB}\n` });
    assert.equal(limited.availableBytes, 128 * MiB - (63963136 - 4194304));
  });

  it('never reports a negative working set or available bytes', () => {
    assert.equal(workingSet(100n, 400n), 0n);
    assert.equal(workingSet(400n, 100n), 300n);
    const over = parseV2Memory({ current: '1000', stat: 'inactive_file 0\n', max: '500' });
    assert.equal(over.availableBytes, 0);
  });

  it('parses pids files on both versions', () => {
    assert.deepEqual(parsePids('12\n', 'max\n'), { current: 12 });
    assert.deepEqual(parsePids('3\n', '1024\n'), { current: 3, limit: 1024 });
  });

  it('rejects malformed texts with the file name in the message', () => {
    assert.throws(() => parseKeyedValues('memory.stat', 'rss\n'), CgroupParseError);
    assert.throws(() => parseLimit('memory.max', 'lots'), /memory\.max/);
    assert.throws(() => parseV1Cpu('not a number'), /cpuacct\.usage/);
  });

  it('finds v1 controllers (joined or separate) and the cgroup2 mount in /proc/self/mounts', () => {
    const hybrid = parseCgroupMounts(`tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,xattr,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
`);
    assert.equal(hybrid.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(hybrid.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(hybrid.v1.get('memory'), '/sys/fs/cgroup/memory');
    assert.equal(hybrid.v1.has('name=systemd'), false);
    assert.equal(hybrid.v1.has('relatime'), false);
    assert.equal(hybrid.v2, '/sys/fs/cgroup/unified');
    const v2 = parseCgroupMounts('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n');
    assert.equal(v2.v1.size, 0);
    assert.equal(v2.v2, '/sys/fs/cgroup');
  });

  it('tells pure v1, hybrid and pure v2 layouts apart', () => {
    const v1 = 'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n';
    const unified = 'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n';
    const systemdNamed = 'cgroup /sys/fs/cgroup/systemd cgroup rw,xattr,name=systemd 0 0\n';
    assert.equal(layoutOf(parseCgroupMounts(v1)), 'v1');
    assert.equal(layoutOf(parseCgroupMounts(v1 + unified)), 'hybrid');
    assert.equal(layoutOf(parseCgroupMounts('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n' + systemdNamed)), 'v2');
  });

  it('parses /proc/<pid>/cgroup into per-controller paths', () => {
    const paths = parseProcCgroup(`12:pids:/kubepods/pod1/abc
4:cpu,cpuacct:/kubepods/pod1/abc
3:memory:/kubepods/pod1/abc
1:name=systemd:/system.slice/berth.service
0::/kubepods/pod1/abc
`);
    assert.equal(paths.v1.get('cpuacct'), '/kubepods/pod1/abc');
    assert.equal(paths.v1.get('pids'), '/kubepods/pod1/abc');
    assert.equal(paths.v1.has('name=systemd'), false);
    assert.equal(paths.v2, '/kubepods/pod1/abc');
    assert.deepEqual(parseProcCgroup('0::/user.slice\n'), { v1: new Map(), v2: '/user.slice' });
  });

  it('resolves cgroupfs and systemd cgroupsPaths', () => {
    assert.equal(resolveCgroupsPath('/kubepods/besteffort/pod1/abc'), '/kubepods/besteffort/pod1/abc');
    assert.equal(resolveCgroupsPath('kubepods/abc'), '/kubepods/abc');
    assert.equal(
      resolveCgroupsPath('kubepods-besteffort-pod1.slice:cri-berth:abc'),
      '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-berth-abc.scope',
    );
    assert.equal(resolveCgroupsPath('system.slice:berth:abc'), '/system.slice/berth-abc.scope');
    assert.throws(() => resolveCgroupsPath('nope:a:b'), /must end in "\.slice"/);
  });
});

describe('CgroupStatsReader on a fake cgroupfs', () => {
  const clock = (): bigint => 1_700_000_000_000_000_000n;

  it('reads v1 controllers by path (hybrid: v1 wins over the unified tree)', async (t) => {
    const root = await tempDir(t);
    const path = '/kubepods/pod1/abc';
    await writeFiles(join(root, 'cpu,cpuacct', path), { 'cpuacct.usage': '5000000000\n', 'cpuacct.stat': 'user 300\nsystem 100\n' });
    await writeFiles(join(root, 'memory', path), { 'memory.usage_in_bytes': '4096000\n', 'memory.stat': 'total_rss 2048000\ntotal_inactive_file 96000\ntotal_pgfault 10\ntotal_pgmajfault 2\n', 'memory.limit_in_bytes': '8192000\n' });
    await writeFiles(join(root, 'pids', path), { 'pids.current': '4\n', 'pids.max': 'max\n' });
    await writeFiles(join(root, 'unified', path), { 'cpu.stat': 'usage_usec 1\n' });
    const mounts = [
      `cgroup ${root}/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0`,
      `cgroup ${root}/memory cgroup rw,memory 0 0`,
      `cgroup ${root}/pids cgroup rw,pids 0 0`,
      `cgroup2 ${root}/unified cgroup2 rw 0 0`,
    ].join('\n');
    const reader = new CgroupStatsReader({ mountsText: mounts, clock });
    assert.equal(reader.layout, 'hybrid');
    const stats = await reader.byPath(path);
    assert.equal(stats.timestamp, clock());
    assert.equal(stats.cpu?.usageCoreNanoSeconds, 5_000_000_000n);
    assert.equal(stats.cpu?.usageUserNanoSeconds, 3_000_000_000n);
    assert.equal(stats.memory?.workingSetBytes, 4000000);
    assert.equal(stats.memory?.availableBytes, 4192000);
    assert.deepEqual(stats.pids, { current: 4 });
  });

  it('reads the unified tree on pure v2, by pid, and omits controllers that are not enabled', async (t) => {
    const root = await tempDir(t);
    const path = '/kubepods.slice/cri-berth-abc.scope';
    await writeFiles(join(root, 'cg', path), { 'cpu.stat': V2_CPU_STAT, 'pids.current': '2\n', 'pids.max': '100\n' });
    await writeFiles(join(root, 'proc', '4242'), { cgroup: `0::${path}\n` });
    const reader = new CgroupStatsReader({ mountsText: `cgroup2 ${root}/cg cgroup2 rw 0 0\n`, procRoot: join(root, 'proc'), clock });
    assert.equal(reader.layout, 'v2');
    const stats = await reader.byPid(4242);
    assert.equal(stats.cpu?.usageCoreNanoSeconds, 2_500_123_000n);
    assert.equal(stats.memory, undefined, 'no memory.current: memory controller not enabled');
    assert.deepEqual(stats.pids, { current: 2, limit: 100 });

    await writeFiles(join(root, 'cg', path), { 'memory.current': '63963136\n', 'memory.stat': V2_MEMORY_STAT, 'memory.max': 'max\n' });
    const withMemory = await reader.byPath('kubepods.slice:cri-berth:abc');
    assert.equal(withMemory.memory?.workingSetBytes, 63963136 - 4194304);
  });

  it('throws NotFoundError for a missing cgroup or process', async (t) => {
    const root = await tempDir(t);
    await mkdir(join(root, 'cg'));
    const reader = new CgroupStatsReader({ mountsText: `cgroup2 ${root}/cg cgroup2 rw 0 0\n`, procRoot: join(root, 'proc') });
    await assert.rejects(reader.byPath('/gone'), (err: unknown) => err instanceof NotFoundError && /\/gone/.test(err.message));
    await assert.rejects(reader.byPid(99999), NotFoundError);
  });
});
