/** Figure 3: ExecSync latency of `true` in a running container. */
import { addLatency, emptyRun, type FigureRun } from '../measures.js';
import { podConfig, removePod, runPod, startSleeper } from '../pods.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import type { BenchSettings } from '../settings.js';
import { nowMs } from '../stats.js';

export async function execFigure(rt: RuntimeUnderTest, settings: BenchSettings): Promise<FigureRun> {
  const run = emptyRun();
  const pod = podConfig(rt, 'exec');
  const podId = await runPod(rt, pod);
  try {
    const id = await startSleeper(rt, podId, pod, 'target');
    const samples: number[] = [];
    for (let i = 0; i < settings.execCalls; i++) {
      const t0 = nowMs();
      const res = await rt.cri.runtime.ExecSync({ container_id: id, cmd: ['true'], timeout: '10' });
      samples.push(nowMs() - t0);
      if (res.exit_code !== 0) throw new Error(`${rt.name}: ExecSync true exited ${res.exit_code}: ${res.stderr.toString()}`);
    }
    addLatency(run, 'execsync', 'ExecSync `true`', samples);
  } finally {
    await removePod(rt, podId);
  }
  return run;
}
