import type { Duplex, Readable, Writable } from 'node:stream';
import type { TerminalResizeSource, TerminalSize } from '../../core/runtime/terminal.js';

export type { TerminalResizeSource, TerminalSize };

/**
 * The client's side of an exec or attach session, as the backend sees it.
 * Streams the client did not ask for are absent. With a TTY there is no
 * stderr (the terminal merges it) and `resize` reports the client's window
 * size, the newest one first, to whoever subscribes.
 */
export interface StreamIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  resize?: TerminalResizeSource;
  /** Aborted when the client goes away or the server stops: stop the process or detach. */
  signal: AbortSignal;
}

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
