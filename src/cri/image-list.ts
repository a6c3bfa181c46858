import type { Image } from '../gen/cri/runtime/v1/Image.js';
import type { ListImagesRequest__Output } from '../gen/cri/runtime/v1/ListImagesRequest.js';
import type { ListImagesResponse } from '../gen/cri/runtime/v1/ListImagesResponse.js';
import type { CriContext } from './context.js';
import { toCriImage } from './image-view.js';

export async function listImages(ctx: CriContext, req: ListImagesRequest__Output): Promise<ListImagesResponse> {
  const wanted = req.filter?.image?.image;
  const groups = wanted ? [ctx.images.find(wanted)].filter((g) => g !== undefined) : ctx.images.list();
  const images: Image[] = [];
  for (const group of groups) images.push(toCriImage(group, await ctx.images.config(group.id)));
  return { images };
}
