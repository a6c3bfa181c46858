/** Figure 2: CreateContainer+StartContainer latency, and a full pod lifecycle. */
import { addLatency, emptyRun, type FigureRun } from '../measures.js';
import { podConfig, removePod, runPod, sleepContainer } from '../pods.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import type { BenchSettings } from '../settings.js';
import { nowMs } from '../stats.js';

export async function containerFigure(rt: RuntimeUnderTest, settings: BenchSettings): Promise<FigureRun> {
  const run = emptyRun();
  const pod = podConfig(rt, 'ctr');
  const podId = await runPod(rt, pod);
  try {
    const createStart: number[] = [];
    const create: number[] = [];
    for (let i = 0; i < settings.createStartSamples; i++) {
      const t0 = nowMs();
      const { container_id } = await rt.cri.runtime.CreateContainer({ pod_sandbox_id: podId, config: sleepContainer(`sleeper-${i}`), sandbox_config: pod });
      const t1 = nowMs();
      await rt.cri.runtime.StartContainer({ container_id });
      createStart.push(nowMs() - t0);
      create.push(t1 - t0);
    }
    addLatency(run, 'create_start', 'CreateContainer+StartContainer (busybox sleep)', createStart);
    addLatency(run, 'create', 'CreateContainer alone', create);
  } finally {
    await removePod(rt, podId);
  }

  const lifecycle: number[] = [];
  for (let i = 0; i < settings.lifecycleSamples; i++) {
    const config = podConfig(rt, 'life');
    const t0 = nowMs();
    const id = await runPod(rt, config);
    const { container_id } = await rt.cri.runtime.CreateContainer({ pod_sandbox_id: id, config: sleepContainer('app'), sandbox_config: config });
    await rt.cri.runtime.StartContainer({ container_id });
    // sleep as PID 1 ignores SIGTERM: a grace period would only measure the wait.
    await rt.cri.runtime.StopContainer({ container_id, timeout: '0' });
    await rt.cri.runtime.RemoveContainer({ container_id });
    await removePod(rt, id);
    lifecycle.push(nowMs() - t0);
  }
  addLatency(run, 'lifecycle', 'pod lifecycle: run, create, start, stop, remove', lifecycle);
  return run;
}
