/** Figure 3: ExecSync latency of `true` in a running container, and runc exec alone as its floor. */
import { resolveExecutable } from '../../src/core/runtime/binary.js';
import { spawnChild } from '../../src/core/sys/spawn.js';
import { addLatency, emptyRun, type FigureRun } from '../measures.js';
import { podConfig, removePod, runPod, startSleeper } from '../pods.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import type { BenchSettings } from '../settings.js';
import { nowMs } from '../stats.js';

/**
 * `runc exec <id> true` spawned by the bench itself: what any runc-based
 * ExecSync costs at least. Spawned the way berthd spawns it (posix_spawn):
 * node's own spawn forks, which costs more the more memory the bench holds
 * (the big image of the pull figure).
 */
function runcExecTrue(runcRoot: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(resolveExecutable('runc'), [`--root=${runcRoot}`, 'exec', id, 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code: number | null) => (code === 0 ? resolve() : reject(new Error(`runc exec ${id} true exited ${code}: ${stderr.trim()}`))));
  });
}

async function timeSequential(count: number, call: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = nowMs();
    await call();
    samples.push(nowMs() - t0);
  }
  return samples;
}

export async function execFigure(rt: RuntimeUnderTest, settings: BenchSettings): Promise<FigureRun> {
  const run = emptyRun();
  const pod = podConfig(rt, 'exec');
  const podId = await runPod(rt, pod);
  try {
    const id = await startSleeper(rt, podId, pod, 'target');
    const execSync = await timeSequential(settings.execCalls, async () => {
      const res = await rt.cri.runtime.ExecSync({ container_id: id, cmd: ['true'], timeout: '10' });
      if (res.exit_code !== 0) throw new Error(`${rt.name}: ExecSync true exited ${res.exit_code}: ${res.stderr.toString()}`);
    });
    addLatency(run, 'execsync', 'ExecSync `true`', execSync);
    addLatency(run, 'execsync.runc', 'floor: `runc exec <id> true` spawned by the bench, no daemon involved,', await timeSequential(settings.execCalls, () => runcExecTrue(rt.runcRoot, id)));
  } finally {
    await removePod(rt, podId);
  }
  return run;
}
