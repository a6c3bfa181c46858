import type { StreamingBackend } from './backend.js';
import { expectedStreamTypes, runRemoteCommand, type RemoteCommand, type RemoteCommandStreams } from './remotecommand.js';
import { remoteCommandVersion } from './protocols.js';
import { headerValue } from './spdy/header-codec.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';

export const STREAM_TYPE_HEADER = 'streamtype';

/**
 * Waits until the client has opened every stream the request calls for.
 * Streams of unexpected or repeated types are reset. Resolves undefined if
 * the client leaves or is too slow.
 */
function collectStreams(session: SpdySession, expected: Set<string>, timeoutMs: number): Promise<Map<string, SpdyStream> | undefined> {
  return new Promise((resolve) => {
    const got = new Map<string, SpdyStream>();
    const done = (result: Map<string, SpdyStream> | undefined): void => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
      resolve(result);
    };
    const onStream = (stream: SpdyStream): void => {
      const type = headerValue(stream.headers, STREAM_TYPE_HEADER) ?? '';
      if (!expected.has(type) || got.has(type)) {
        stream.reset();
        return;
      }
      got.set(type, stream);
      if (got.size === expected.size) done(got);
    };
    const onClose = (): void => done(undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    session.on('stream', onStream);
    session.on('close', onClose);
  });
}

/** Serves exec or attach on an upgraded SPDY session, then closes it. */
export async function serveSpdyRemoteCommand(
  session: SpdySession,
  protocol: string,
  command: RemoteCommand,
  backend: StreamingBackend,
  options: { streamCreationTimeoutMs: number; stopSignal: AbortSignal },
): Promise<void> {
  const version = remoteCommandVersion(protocol);
  const streams = await collectStreams(session, expectedStreamTypes(command.request, version), options.streamCreationTimeoutMs);
  if (!streams) {
    session.close();
    return;
  }
  const abort = new AbortController();
  const onGone = (): void => abort.abort(new Error('the streaming client disconnected'));
  session.on('close', onGone);
  const onStop = (): void => abort.abort(new Error('the streaming server is stopping'));
  options.stopSignal.addEventListener('abort', onStop, { once: true });
  try {
    const set: RemoteCommandStreams = {
      stdin: streams.get('stdin'),
      stdout: streams.get('stdout'),
      stderr: streams.get('stderr'),
      error: streams.get('error')!,
      resize: streams.get('resize'),
    };
    await runRemoteCommand(backend, command, set, version, abort.signal);
  } finally {
    session.off('close', onGone);
    options.stopSignal.removeEventListener('abort', onStop);
    session.close();
  }
}
