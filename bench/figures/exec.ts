/** Figure 3: ExecSync latency of `true` in a running container, and runc exec alone as its floor. */
import { runCommand } from '../../src/core/runtime/command.js';
import { resolveExecutable } from '../../src/core/runtime/binary.js';
import { addLatency, emptyRun, type FigureRun } from '../measures.js';
import { podConfig, removePod, runPod, startSleeper } from '../pods.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import type { BenchSettings } from '../settings.js';
import { timeSequential } from '../stats.js';

/**
 * `runc exec <id> true` run by the bench itself: what any runc-based ExecSync
 * costs at least. runCommand spawns with posix_spawn, as berthd does: node's
 * own spawn forks, which costs more the more memory the bench holds (the big
 * image of the pull figure).
 */
async function runcExecTrue(runc: string, runcRoot: string, id: string): Promise<void> {
  const res = await runCommand(runc, [`--root=${runcRoot}`, 'exec', id, 'true'], { timeoutMs: 10_000 });
  if (res.exitCode !== 0) throw new Error(`runc exec ${id} true exited ${res.exitCode ?? res.signal}: ${res.stderr.trim()}`);
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
    const runc = resolveExecutable('runc');
    const runcAlone = await timeSequential(settings.execCalls, () => runcExecTrue(runc, rt.runcRoot, id));
    addLatency(run, 'execsync.runc', 'floor: `runc exec <id> true` run by the bench, no daemon involved:', runcAlone);
  } finally {
    await removePod(rt, podId);
  }
  return run;
}
