/**
 * Figure 6: pull + unpack of a large multi-layer image, then its removal.
 * Rounds alternate between the runtimes (berth, containerd, berth, …) so a burst
 * of load from elsewhere on the machine hits both alike; the medians are reported.
 */
import type { BigImage } from '../big-image.js';
import { addValue, emptyRun, type FigureRun } from '../measures.js';
import { cpuSeconds } from '../proc.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import { nowMs, summarize } from '../stats.js';

export interface PullSample {
  pullMs: number;
  /** CPU the daemon process (all its threads) used during the pull. */
  cpuMs: number;
  removeMs: number;
}

/** One pull of the image (checked to be listed), then its removal (checked to be gone). */
export async function pullRound(rt: RuntimeUnderTest, image: BigImage): Promise<PullSample & { imageRef: string }> {
  const cpu0 = await cpuSeconds(rt.pid);
  const t0 = nowMs();
  const pulled = await rt.cri.image.PullImage({ image: { image: image.reference } });
  const pullMs = nowMs() - t0;
  const cpuMs = ((await cpuSeconds(rt.pid)) - cpu0) * 1000;
  const status = await rt.cri.image.ImageStatus({ image: { image: image.reference } });
  if (!status.image) throw new Error(`${rt.name}: ${image.reference} is not listed after its pull`);
  const t1 = nowMs();
  await rt.cri.image.RemoveImage({ image: { image: image.reference } });
  const removeMs = nowMs() - t1;
  const after = await rt.cri.image.ImageStatus({ image: { image: image.reference } });
  if (after.image) throw new Error(`${rt.name}: ${image.reference} is still listed after RemoveImage`);
  return { pullMs, cpuMs, removeMs, imageRef: pulled.image_ref };
}

export function pullRun(samples: readonly PullSample[], image: BigImage, imageRef: string): FigureRun {
  const run = emptyRun();
  const mb = image.compressedBytes / 1e6;
  const pull = summarize(samples.map((s) => s.pullMs));
  const remove = summarize(samples.map((s) => s.removeMs));
  const cpu = summarize(samples.map((s) => s.cpuMs));
  run.detail['image_ref'] = imageRef;
  run.detail['pull.wall'] = pull;
  run.detail['remove.wall'] = remove;
  run.detail['pull.cpu'] = cpu;
  const n = samples.length;
  addValue(run, 'pull.wall', `PullImage ${image.reference} (${mb.toFixed(0)} MB, ${image.image.layers.length} layers), median of ${n}`, 'ms', pull.p50);
  addValue(run, 'pull.throughput', 'pull+unpack throughput (content bytes / median wall time)', 'MB/s', image.contentBytes / 1e6 / (pull.p50 / 1000), true);
  addValue(run, 'pull.cpu', `daemon CPU time per pull (all threads), median of ${n}`, 'ms', cpu.p50);
  addValue(run, 'remove.wall', `RemoveImage (crictl rmi) of it, median of ${n}`, 'ms', remove.p50);
  return run;
}
