import { InvalidArgumentError } from '../core/errors.js';
import type { PullImageRequest__Output } from '../gen/cri/runtime/v1/PullImageRequest.js';
import type { PullImageResponse } from '../gen/cri/runtime/v1/PullImageResponse.js';
import { pullCredentialsFromAuth } from './auth.js';
import type { CriContext } from './context.js';

/** PullImage; a pull every waiting client has abandoned (cancelled, deadline passed) stops downloading. */
export async function pullImage(ctx: CriContext, req: PullImageRequest__Output, signal?: AbortSignal): Promise<PullImageResponse> {
  const reference = req.image?.image ?? '';
  if (!reference) throw new InvalidArgumentError('image.image must name the image to pull');
  const started = Date.now();
  const pulled = await ctx.images.pull(reference, pullCredentialsFromAuth(req.auth), undefined, signal);
  ctx.logger.info('image pulled', { image: reference, id: pulled.id, ms: Date.now() - started });
  return { image_ref: pulled.id };
}
