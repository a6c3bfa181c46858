import type { ImageFsInfoRequest__Output } from '../gen/cri/runtime/v1/ImageFsInfoRequest.js';
import type { ImageFsInfoResponse } from '../gen/cri/runtime/v1/ImageFsInfoResponse.js';
import type { CriContext } from './context.js';

/** Usage of the snapshotter's filesystem, where image layers and container writable layers live. */
export async function imageFsInfo(ctx: CriContext, _req: ImageFsInfoRequest__Output): Promise<ImageFsInfoResponse> {
  const usage = await ctx.imageFsUsage();
  const entry = {
    timestamp: String(BigInt(Date.now()) * 1_000_000n),
    fs_id: { mountpoint: usage.mountpoint },
    used_bytes: { value: String(usage.bytes) },
    inodes_used: { value: String(usage.inodes) },
  };
  return { image_filesystems: [entry], container_filesystems: [entry] };
}
