/** Figure 1: RunPodSandbox latency, sequential, and the wall time of pods started in parallel. */
import { addLatency, addValue, emptyRun, type FigureRun } from '../measures.js';
import { podConfig, removePod, runPod } from '../pods.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import type { BenchSettings } from '../settings.js';
import { nowMs, timed } from '../stats.js';

export async function sandboxFigure(rt: RuntimeUnderTest, settings: BenchSettings): Promise<FigureRun> {
  const run = emptyRun();
  const ids: string[] = [];
  const samples: number[] = [];
  for (let i = 0; i < settings.sequentialPods; i++) {
    const config = podConfig(rt, 'seq');
    samples.push(await timed(async () => ids.push(await runPod(rt, config))));
  }
  const teardown: number[] = [];
  for (const id of ids.splice(0)) teardown.push(await timed(() => removePod(rt, id)));
  addLatency(run, 'runpod.seq', 'RunPodSandbox, sequential', samples);
  addLatency(run, 'stopremove.seq', 'StopPodSandbox+RemovePodSandbox, sequential', teardown);

  const configs = Array.from({ length: settings.parallelPods }, () => podConfig(rt, 'par'));
  const start = nowMs();
  const results = await Promise.allSettled(configs.map((c) => runPod(rt, c)));
  const wall = nowMs() - start;
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  await Promise.all(started.map((id) => removePod(rt, id)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw new Error(`${rt.name}: ${results.length - started.length} of ${results.length} parallel RunPodSandbox failed: ${String(failed.reason)}`);
  addValue(run, 'runpod.parallel.wall', `${settings.parallelPods} RunPodSandbox in parallel, wall time`, 'ms', wall);
  return run;
}
