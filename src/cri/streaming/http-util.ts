import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Answers a raw (upgrade) socket with a plain-text HTTP error and closes it. */
export function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string | string[]> = {}): void {
  const body = Buffer.from(`${message}\n`, 'utf8');
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${body.length}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  if (socket.destroyed) return;
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
  // end() flushes; destroy soon after so a client that keeps its side open cannot pin the socket.
  setTimeout(() => socket.destroy(), 1000).unref();
}
