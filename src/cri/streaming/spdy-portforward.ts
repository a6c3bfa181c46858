import { errorMessage } from '../../core/errors.js';
import type { StreamingBackend } from './backend.js';
import { STREAM_TYPE_HEADER } from './spdy-remotecommand.js';
import { headerValue } from './spdy/header-codec.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';

interface PendingPair {
  error?: SpdyStream;
  data?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function endQuietly(stream: SpdyStream): void {
  if (!stream.destroyed && !stream.writableEnded) stream.end();
}

/**
 * The portforward.k8s.io protocol: for every client connection the client
 * opens an error stream and a data stream with the same requestID and port;
 * each pair is forwarded by the backend. Resolves when the session ends.
 */
export function serveSpdyPortForward(
  session: SpdySession,
  podSandboxId: string,
  backend: StreamingBackend,
  options: { streamCreationTimeoutMs: number; stopSignal: AbortSignal },
): Promise<void> {
  const abort = new AbortController();
  const pending = new Map<string, PendingPair>();

  const forward = async (port: number, data: SpdyStream, error: SpdyStream): Promise<void> => {
    try {
      await backend.portForward(podSandboxId, port, data, abort.signal);
    } catch (err) {
      if (!error.destroyed && !error.writableEnded) error.write(`error forwarding port ${port} to pod ${podSandboxId}: ${errorMessage(err)}`);
    } finally {
      endQuietly(data);
      endQuietly(error);
    }
  };

  const onStream = (stream: SpdyStream): void => {
    const type = headerValue(stream.headers, STREAM_TYPE_HEADER);
    const port = parsePort(headerValue(stream.headers, 'port'));
    if ((type !== 'error' && type !== 'data') || port === undefined) {
      stream.reset();
      return;
    }
    // Old clients send no requestID: their data stream follows its error stream (ids step by 2).
    const requestId = headerValue(stream.headers, 'requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pending.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        const stale = pending.get(requestId);
        pending.delete(requestId);
        if (stale?.error) {
          stale.error.end(`timed out waiting for the data stream of request ${requestId}`);
        }
        stale?.data?.reset();
      }, options.streamCreationTimeoutMs);
      timer.unref();
      pair = { timer };
      pending.set(requestId, pair);
    }
    if (pair[type]) {
      stream.reset();
      return;
    }
    pair[type] = stream;
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pending.delete(requestId);
      void forward(port, pair.data, pair.error);
    }
  };

  return new Promise((resolve) => {
    const onStop = (): void => session.destroy();
    options.stopSignal.addEventListener('abort', onStop, { once: true });
    session.on('stream', onStream);
    session.once('close', () => {
      abort.abort(new Error('the port-forward client disconnected'));
      for (const pair of pending.values()) clearTimeout(pair.timer);
      pending.clear();
      session.off('stream', onStream);
      options.stopSignal.removeEventListener('abort', onStop);
      resolve();
    });
  });
}
