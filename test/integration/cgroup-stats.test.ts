import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { CgroupStatsReader } from '../../src/core/metrics/cgroup-stats.js';
import { CpuRateTracker } from '../../src/core/metrics/cpu-rate.js';

const MiB = 1024 * 1024;
const LIMIT = 512 * MiB;
const isRoot = process.getuid?.() === 0;

// Allocates (and touches) 50 MiB, says so, then burns CPU while keeping the buffer alive.
const CHILD_SCRIPT = `
const held = Buffer.alloc(50 * 1024 * 1024, 1);
process.stdout.write('ready\\n');
let i = 0;
for (;;) { i = (i + held[i % held.length]) % 1000003; }
`;

/** Spawns the child so that it joins the cgroups before node starts: every page it touches is charged there. */
function spawnInCgroups(procsFiles: string[]): ChildProcess {
  const joinCgroups = 'for f in "$@"; do echo $$ > "$f" || exit 1; done; exec "$NODE" -e "$SCRIPT"';
  return spawn('/bin/sh', ['-c', joinCgroups, 'sh', ...procsFiles], {
    env: { ...process.env, NODE: process.execPath, SCRIPT: CHILD_SCRIPT },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not allocate its memory within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (chunk.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early with code ${code}`));
    });
  });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** rmdir of a cgroup fails with EBUSY until the killed task has fully left it. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      await sleep(100);
    }
  }
  throw new Error(`could not remove test cgroup ${dir}: still busy`);
}

describe('cgroup stats on this host', { skip: isRoot ? false : 'needs root to create cgroups' }, () => {
  it('reads cpu, memory and pids of a real cgroup by path and by pid', { timeout: 60_000 }, async (t) => {
    const reader = new CgroupStatsReader();
    t.diagnostic(`cgroup layout: ${reader.layout}`);
    const name = `/berth-stats-test-${process.pid}`;
    // Every hierarchy the reader reads from: a v1 controller's mount, or the unified tree.
    const hierarchies = [...new Set(['cpuacct', 'memory', 'pids'].map((c) => reader.mounts.v1.get(c) ?? reader.mounts.v2).filter((m): m is string => m !== undefined))];
    assert.ok(hierarchies.length > 0, 'no cgroup hierarchy is mounted');
    const dirs = hierarchies.map((h) => join(h, name));

    let child: ChildProcess | undefined;
    t.after(async () => {
      if (child !== undefined) await killAndWait(child);
      for (const dir of dirs) await removeCgroup(dir);
    });
    for (const dir of dirs) await mkdir(dir);

    const memoryDir = join(reader.mounts.v1.get('memory') ?? reader.mounts.v2 ?? '/nonexistent', name);
    const limitFile = existsSync(join(memoryDir, 'memory.limit_in_bytes')) ? 'memory.limit_in_bytes' : 'memory.max';
    const memoryAvailable = existsSync(join(memoryDir, limitFile));
    if (memoryAvailable) await writeFile(join(memoryDir, limitFile), String(LIMIT));
    else t.diagnostic('memory controller not enabled for the test cgroup: memory is not checked');

    child = spawnInCgroups(dirs.map((d) => join(d, 'cgroup.procs')));
    await waitForReady(child, 30_000);

    const first = await reader.byPath(name);
    assert.ok(first.cpu !== undefined, 'cpu stats are read');
    assert.ok(first.cpu.usageCoreNanoSeconds > 0n);
    assert.ok(first.pids !== undefined && first.pids.current >= 1, 'the child is counted in pids.current');

    if (memoryAvailable) {
      const memory = first.memory;
      assert.ok(memory !== undefined, 'memory stats are read');
      assert.ok(memory.usageBytes >= 50 * MiB, `usage ${memory.usageBytes} >= 50 MiB`);
      assert.ok(memory.workingSetBytes >= 50 * MiB, `working set ${memory.workingSetBytes} >= 50 MiB`);
      assert.ok(memory.workingSetBytes <= memory.usageBytes);
      assert.ok(memory.rssBytes >= 50 * MiB, `rss ${memory.rssBytes} >= 50 MiB`);
      assert.ok(memory.pageFaults > 0);
      assert.equal(memory.limitBytes, LIMIT);
      assert.equal(memory.availableBytes, LIMIT - memory.workingSetBytes);
    }

    // The child spins: poll (bounded) until its cgroup has accumulated more CPU time.
    let second = await reader.byPath(name);
    for (let i = 0; i < 100 && second.cpu!.usageCoreNanoSeconds <= first.cpu.usageCoreNanoSeconds; i++) {
      await sleep(100);
      second = await reader.byPath(name);
    }
    assert.ok(second.cpu!.usageCoreNanoSeconds > first.cpu.usageCoreNanoSeconds, 'cpu usage grows between two reads');
    assert.ok(second.timestamp > first.timestamp);

    const tracker = new CpuRateTracker();
    tracker.update('test', { timestamp: first.timestamp, usageCoreNanoSeconds: first.cpu.usageCoreNanoSeconds });
    const nanoCores = tracker.update('test', { timestamp: second.timestamp, usageCoreNanoSeconds: second.cpu!.usageCoreNanoSeconds });
    assert.ok(nanoCores !== undefined && nanoCores > 0, `a busy child uses CPU (got ${nanoCores} nano cores)`);

    const byPid = await reader.byPid(child.pid!);
    assert.ok(byPid.cpu!.usageCoreNanoSeconds >= second.cpu!.usageCoreNanoSeconds, 'by pid reads the same cgroup');
    if (memoryAvailable) assert.ok(byPid.memory!.usageBytes >= 50 * MiB);
  });

  it('reports a cgroup that does not exist as not found', async () => {
    const reader = new CgroupStatsReader();
    await assert.rejects(reader.byPath(`/berth-stats-missing-${process.pid}`), { name: 'NotFoundError' });
  });
});
