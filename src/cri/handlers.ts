import type { CriHandlers } from './grpc-server.js';
import { imageFsInfo } from './image-fs-info.js';
import { listImages } from './image-list.js';
import { pullImage } from './image-pull.js';
import { removeImage } from './image-remove.js';
import { imageStatus } from './image-status.js';
import { runtimeConfig } from './runtime-config.js';
import { updateRuntimeConfig } from './runtime-config-update.js';
import { status } from './status.js';
import { version } from './version.js';

/** Every CRI method berth implements; the rest answer UNIMPLEMENTED. */
export function criHandlers(): CriHandlers {
  return {
    RuntimeService: {
      unary: {
        Version: version,
        Status: status,
        RuntimeConfig: runtimeConfig,
        UpdateRuntimeConfig: updateRuntimeConfig,
      },
    },
    ImageService: {
      unary: {
        PullImage: pullImage,
        ListImages: listImages,
        ImageStatus: imageStatus,
        RemoveImage: removeImage,
        ImageFsInfo: imageFsInfo,
      },
    },
  };
}
