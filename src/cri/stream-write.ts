import { once } from 'node:events';
import type * as grpc from '@grpc/grpc-js';

/**
 * Writes one message to a server stream; when the transport's buffer is full,
 * waits until it drains or the client leaves.
 */
export async function writeWithBackpressure(call: grpc.ServerWritableStream<object, object>, message: object): Promise<void> {
  if (call.write(message)) return;
  const waiting = new AbortController();
  await Promise.race(['drain', 'cancelled', 'close'].map((name) => once(call, name, { signal: waiting.signal }))).catch(() => undefined);
  waiting.abort();
}
