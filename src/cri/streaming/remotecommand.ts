import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { errorMessage } from '../../core/errors.js';
import type { StreamIO, StreamingBackend } from './backend.js';
import type { RemoteCommandVersion } from './protocols.js';
import type { AttachRequest, ExecRequest } from './request-cache.js';
import { encodeStatus, exitErrorText, internalErrorStatus, nonZeroExitStatus, successStatus, type KubeStatus } from './status.js';
import { TerminalResizes, TerminalSizeDecoder } from './terminal-size.js';

/** The client's streams once the transport (SPDY or WebSocket) has set them up. */
export interface RemoteCommandStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  error: Writable;
  /** Raw bytes of resize documents. */
  resize?: Readable;
}

export type RemoteCommand = { kind: 'exec'; request: ExecRequest } | { kind: 'attach'; request: AttachRequest };

/** Which streams a client must open for a request (kubelet's expectations). */
export function expectedStreamTypes(request: ExecRequest | AttachRequest, version: RemoteCommandVersion): Set<string> {
  const types = new Set<string>(['error']);
  if (request.stdin) types.add('stdin');
  if (request.stdout) types.add('stdout');
  if (request.stderr && !request.tty) types.add('stderr');
  if (request.tty && version >= 3) types.add('resize');
  return types;
}

async function endAndWait(stream: Writable | undefined): Promise<void> {
  if (!stream || stream.destroyed) return;
  if (!stream.writableEnded) stream.end();
  await finished(stream, { readable: false }).catch(() => undefined);
}

function writeStatus(error: Writable, status: KubeStatus, version: RemoteCommandVersion): void {
  if (error.destroyed || error.writableEnded) return;
  if (version >= 4) error.write(encodeStatus(status));
  // Before v4 the error stream carries only the message of a failure.
  else if (status.status === 'Failure') error.write(Buffer.from(status.message ?? 'unknown error', 'utf8'));
}

/**
 * Runs one exec or attach against the backend with the client's streams, then
 * reports the outcome on the error stream and ends every stream we write.
 * The caller owns the transport and closes it afterwards.
 */
export async function runRemoteCommand(
  backend: StreamingBackend,
  command: RemoteCommand,
  streams: RemoteCommandStreams,
  version: RemoteCommandVersion,
  signal: AbortSignal,
): Promise<void> {
  let resize: TerminalResizes | undefined;
  if (streams.resize) {
    const resizes = new TerminalResizes();
    const decoder = new TerminalSizeDecoder();
    streams.resize.on('data', (chunk: Buffer) => {
      for (const size of decoder.push(chunk)) resizes.push(size);
    });
    resize = resizes;
  }
  const io: StreamIO = {
    stdin: streams.stdin,
    stdout: streams.stdout,
    stderr: streams.stderr,
    tty: command.request.tty,
    resize,
    signal,
  };
  let status: KubeStatus;
  try {
    if (command.kind === 'exec') {
      const code = await backend.exec(command.request.containerId, command.request.cmd, io);
      status = code === 0 ? successStatus() : nonZeroExitStatus(code, exitErrorText(command.request.cmd, code));
    } else {
      await backend.attach(command.request.containerId, io);
      status = successStatus();
    }
  } catch (err) {
    const what = command.kind === 'exec' ? 'error executing command in container' : 'error attaching to container';
    status = internalErrorStatus(`${what}: ${errorMessage(err)}`);
  }
  await Promise.all([endAndWait(streams.stdout), endAndWait(streams.stderr)]);
  writeStatus(streams.error, status, version);
  await endAndWait(streams.error);
}
