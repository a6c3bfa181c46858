import type { Duplex } from 'node:stream';
import type { StreamIO } from '../../core/runtime/stream-io.js';
import type { TerminalResizeSource, TerminalSize } from '../../core/runtime/terminal.js';

export type { StreamIO, TerminalResizeSource, TerminalSize };

/**
 * What the runtime provides to the streaming server: berth's container layer
 * implements it with runc exec / conmon attach / a connection inside the pod's
 * network namespace. The server never reaches into containers itself.
 */
export interface StreamingBackend {
  /** Runs cmd in the container wired to io; resolves with the exit code. Throw for failures to start. */
  exec(containerId: string, cmd: string[], io: StreamIO): Promise<number>;
  /** Connects io to the container's main process until it exits or the signal aborts. */
  attach(containerId: string, io: StreamIO): Promise<void>;
  /**
   * Forwards one client connection to port inside the pod's network namespace:
   * copy both ways until either side ends. Resolve when done; a rejection's
   * message is sent to the client on the port's error stream.
   */
  portForward(podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void>;
}
