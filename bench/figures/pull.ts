/** Figure 6: pull + unpack of a large multi-layer image, then its removal. */
import type { BigImage } from '../big-image.js';
import { addValue, emptyRun, type FigureRun } from '../measures.js';
import type { RuntimeUnderTest } from '../runtimes.js';
import { nowMs } from '../stats.js';

export async function pullFigure(rt: RuntimeUnderTest, image: BigImage): Promise<FigureRun> {
  const run = emptyRun();
  const mb = image.compressedBytes / 1e6;
  const t0 = nowMs();
  const pulled = await rt.cri.image.PullImage({ image: { image: image.reference } });
  const pullMs = nowMs() - t0;
  const status = await rt.cri.image.ImageStatus({ image: { image: image.reference } });
  if (!status.image) throw new Error(`${rt.name}: ${image.reference} is not listed after its pull`);
  run.detail['image_ref'] = pulled.image_ref;
  addValue(run, 'pull.wall', `PullImage ${image.reference} (${mb.toFixed(0)} MB, ${image.image.layers.length} layers)`, 'ms', pullMs);
  addValue(run, 'pull.throughput', 'pull+unpack throughput (content bytes / wall time)', 'MB/s', image.contentBytes / 1e6 / (pullMs / 1000), true);
  const t1 = nowMs();
  await rt.cri.image.RemoveImage({ image: { image: image.reference } });
  addValue(run, 'remove.wall', 'RemoveImage (crictl rmi) of it', 'ms', nowMs() - t1);
  const after = await rt.cri.image.ImageStatus({ image: { image: image.reference } });
  if (after.image) throw new Error(`${rt.name}: ${image.reference} is still listed after RemoveImage`);
  return run;
}
