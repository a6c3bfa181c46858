import { InvalidArgumentError } from '../core/errors.js';
import type { ImageStatusRequest__Output } from '../gen/cri/runtime/v1/ImageStatusRequest.js';
import type { ImageStatusResponse } from '../gen/cri/runtime/v1/ImageStatusResponse.js';
import type { CriContext } from './context.js';
import { toCriImage } from './image-view.js';

/** An unknown image is not an error: the response carries no image (kubelet then pulls). */
export async function imageStatus(ctx: CriContext, req: ImageStatusRequest__Output): Promise<ImageStatusResponse> {
  const text = req.image?.image ?? '';
  if (!text) throw new InvalidArgumentError('image.image must name an image');
  const group = ctx.images.find(text);
  if (!group) return { image: null, info: {} };
  const config = await ctx.images.config(group.id);
  const info: Record<string, string> = {};
  if (req.verbose) {
    info.info = JSON.stringify({
      imageSpec: config,
      chainID: group.records[0]?.labels['berth.io/chain-id'] ?? '',
      manifestDigest: group.records[0]?.manifestDigest ?? '',
      names: group.records.map((r) => r.name),
    });
  }
  return { image: toCriImage(group, config), info };
}
