import type { Readable, Writable } from 'node:stream';
import type { TerminalResizeSource } from './terminal.js';

/**
 * The client's side of an exec or attach session. Streams the client did not
 * ask for are absent. With a TTY there is no stderr (the terminal merges it)
 * and `resize` reports the client's window size, the newest one first, to
 * whoever subscribes.
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
