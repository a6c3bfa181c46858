import { InvalidArgumentError } from '../core/errors.js';
import type { RemoveImageRequest__Output } from '../gen/cri/runtime/v1/RemoveImageRequest.js';
import type { RemoveImageResponse } from '../gen/cri/runtime/v1/RemoveImageResponse.js';
import type { CriContext } from './context.js';

/** Removes every name of the image and frees what nothing else uses; an unknown image is fine. */
export async function removeImage(ctx: CriContext, req: RemoveImageRequest__Output): Promise<RemoveImageResponse> {
  const text = req.image?.image ?? '';
  if (!text) throw new InvalidArgumentError('image.image must name the image to remove');
  const group = ctx.images.find(text);
  if (!group) return {};
  const freed = await ctx.images.remove(group.id);
  ctx.logger.info('image removed', { id: group.id, names: group.records.map((r) => r.name), ...freed });
  return {};
}
