import type { Readable, Writable } from 'node:stream';
import { FailedPreconditionError, errorMessage } from '../errors.js';
import { FdStream } from '../sys/fd-stream.js';
import { seqpacketConnect } from '../sys/native.js';
import { parseAttachFrame, stdinDatagrams } from './attach-protocol.js';
import { resizeControlMessage, sendControlMessage } from './conmon-control.js';
import type { StreamIO } from './stream-io.js';
import type { TerminalResizeSource } from './terminal.js';

/** The container side of an attach: what conmon offers and how the container was created. */
export interface AttachTarget {
  id: string;
  /** conmon's SOCK_SEQPACKET attach socket. */
  socketPath: string;
  /** conmon's control fifo (terminal resizes). */
  controlPath: string;
  /** The container has a terminal (CRI tty): its output all comes as stdout and it can be resized. */
  tty: boolean;
  /** conmon keeps a stdin pipe for the container (CRI stdin). */
  stdin: boolean;
  /** CRI stdin_once: conmon closes the container's stdin when an attach client ends its stdin. */
  stdinOnce: boolean;
}

/** The client's side of an attach; when it asked for a terminal, container stderr, if any, joins stdout. */
export interface AttachIO extends StreamIO {
  /** Told about resizes conmon did not take; the session goes on. */
  warn?: (message: string) => void;
}

const PEER_GONE = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Connects the client to the container's main process through conmon's
 * attach socket until the container exits, the client goes away, or the
 * client's stdin ends and there is nothing more to wait for.
 *
 * When stdin ends: for a stdin_once container without a terminal, conmon
 * closes the container's stdin and the session waits for the output to end
 * (the process usually exits on end of input); otherwise the client detaches
 * (as containerd does). conmon treats any attach connection ending as the end
 * of stdin, so a stdin_once container's stdin also closes when a client
 * without stdin detaches.
 */
export async function attachContainer(target: AttachTarget, io: AttachIO): Promise<void> {
  if (io.signal.aborted) return;
  let fd: number;
  try {
    fd = seqpacketConnect(target.socketPath);
  } catch (err) {
    throw new FailedPreconditionError(`cannot reach the attach socket of container ${target.id}: ${errorMessage(err)}`);
  }
  const conn = new FdStream(fd, { endWrite: 'shutdown' });
  const cleanups: Array<() => void> = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      conn.on('error', (err: Error & { code?: string }) => done(PEER_GONE.has(err.code ?? '') ? undefined : err));
      // conmon exits with the container, which ends the connection.
      conn.on('end', () => done());
      const onAbort = (): void => done();
      io.signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => io.signal.removeEventListener('abort', onAbort));
      cleanups.push(relayOutput(conn, io));
      if (io.stdin) {
        const waitForOutput = target.stdinOnce && !io.tty;
        cleanups.push(relayStdin(io.stdin, conn, target.stdin, () => !waitForOutput && done()));
      }
      if (target.tty && io.resize) cleanups.push(relayResizes(io.resize, target.controlPath, io.warn));
    });
  } finally {
    for (const cleanup of cleanups) cleanup();
    conn.destroy();
  }
}

/** Routes each datagram to the client's stream; pauses reading while the client cannot keep up. */
function relayOutput(conn: FdStream, io: AttachIO): () => void {
  let waitingOn: Writable | undefined;
  const resume = (): void => {
    waitingOn = undefined;
    conn.resume();
  };
  const onData = (datagram: Buffer): void => {
    const { stream, payload } = parseAttachFrame(datagram);
    const sink = stream === 'stdout' ? io.stdout : stream === 'stderr' ? (io.stderr ?? (io.tty ? io.stdout : undefined)) : undefined;
    // Output nobody asked for is still read: conmon blocks until every attached client has taken it.
    if (!sink || payload.length === 0 || sink.destroyed || sink.writableEnded) return;
    if (!sink.write(payload) && !waitingOn) {
      waitingOn = sink;
      conn.pause();
      sink.once('drain', resume);
    }
  };
  conn.on('data', onData);
  return () => {
    conn.off('data', onData);
    waitingOn?.off('drain', resume);
  };
}

/** Copies the client's stdin into datagrams; at its end half-closes the connection (conmon's end of stdin). */
function relayStdin(stdin: Readable, conn: FdStream, forward: boolean, ended: () => void): () => void {
  let paused = false;
  const onDrain = (): void => {
    paused = false;
    stdin.resume();
  };
  const onData = (chunk: Buffer | string): void => {
    if (!forward || conn.writableEnded || conn.destroyed) return;
    let accepted = true;
    for (const datagram of stdinDatagrams(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) accepted = conn.write(datagram);
    if (!accepted && !paused) {
      paused = true;
      stdin.pause();
      conn.once('drain', onDrain);
    }
  };
  const onEnd = (): void => {
    if (!forward || conn.destroyed || conn.writableEnded) ended();
    else conn.end(() => ended());
  };
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    conn.off('drain', onDrain);
  };
}

/** Hands every terminal size to conmon's control fifo, in order. */
function relayResizes(source: TerminalResizeSource, controlPath: string, warn: ((message: string) => void) | undefined): () => void {
  let queue = Promise.resolve();
  return source.subscribe((size) => {
    const message = resizeControlMessage(size);
    queue = queue
      .then(() => sendControlMessage(controlPath, message))
      .catch((err: unknown) => warn?.(`resizing the terminal failed: ${errorMessage(err)}`));
  });
}
