/**
 * conmon's attach socket protocol (SOCK_SEQPACKET, one message per datagram).
 * From conmon: each datagram is one byte naming the container stream the
 * output came from, then the bytes. To conmon: datagrams of raw stdin bytes;
 * end of file on our side (shutdown for writing) is the end of stdin.
 */

/** First byte of a datagram from conmon (its STDOUT_PIPE / STDERR_PIPE). */
export const ATTACH_STDOUT = 2;
export const ATTACH_STDERR = 3;

/**
 * conmon reads each stdin datagram into a fixed buffer (CONN_SOCK_BUF_SIZE,
 * 32 KiB) and a longer one would be cut: stdin goes in pieces well below that,
 * the size conmon itself reads container output in.
 */
export const ATTACH_STDIN_MAX = 8192;

export type AttachStream = 'stdout' | 'stderr' | 'unknown';

export interface AttachFrame {
  stream: AttachStream;
  payload: Buffer;
}

/** Splits a datagram from conmon into the stream it belongs to and its bytes. */
export function parseAttachFrame(datagram: Buffer): AttachFrame {
  const kind = datagram[0];
  const stream: AttachStream = kind === ATTACH_STDOUT ? 'stdout' : kind === ATTACH_STDERR ? 'stderr' : 'unknown';
  return { stream, payload: datagram.subarray(1) };
}

/** Cuts stdin bytes into datagrams conmon takes whole; never yields an empty one (that would read as end of file). */
export function stdinDatagrams(data: Buffer, max = ATTACH_STDIN_MAX): Buffer[] {
  if (max <= 0) throw new RangeError('max must be positive');
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += max) pieces.push(data.subarray(offset, offset + max));
  return pieces;
}
