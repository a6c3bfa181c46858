import type { ImageGroup } from '../core/images/image-service.js';
import type { CriContext } from './context.js';

/** The image if present, otherwise pulled (the sandbox image, as kubelet never pulls it). */
export async function ensureImage(ctx: CriContext, reference: string): Promise<ImageGroup> {
  const existing = ctx.images.find(reference);
  if (existing) return existing;
  await ctx.images.pull(reference);
  return ctx.images.find(reference)!;
}
