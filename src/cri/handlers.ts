import type { CriHandlers } from './grpc-server.js';
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
    ImageService: { unary: {} },
  };
}
