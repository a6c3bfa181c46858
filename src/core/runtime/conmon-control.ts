import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { TerminalSize } from './terminal.js';

/**
 * conmon's control fifo (`<bundle>/ctl`) takes lines "<type> <height> <width>\n":
 * type 1 resizes the container's terminal, type 2 reopens the log file.
 */
const RESIZE_EVENT = 1;
const REOPEN_LOGS_EVENT = 2;

export function resizeControlMessage(size: TerminalSize): string {
  return `${RESIZE_EVENT} ${Math.trunc(size.height)} ${Math.trunc(size.width)}\n`;
}

export const REOPEN_LOGS_MESSAGE = `${REOPEN_LOGS_EVENT} 0 0\n`;

/**
 * Writes one message to a conmon control fifo. Non-blocking: a conmon that is
 * gone (ENXIO, nobody reads) or a full fifo (EAGAIN) makes this throw instead
 * of hanging. Messages are far below PIPE_BUF, so each write is atomic.
 */
export async function sendControlMessage(controlPath: string, message: string): Promise<void> {
  const handle = await open(controlPath, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await handle.write(message);
  } finally {
    await handle.close();
  }
}
