import { Duplex, Readable, Writable } from 'node:stream';
import { WebSocket, createWebSocketStream, type RawData } from 'ws';
import { errorMessage } from '../../core/errors.js';
import type { StreamingBackend } from './backend.js';
import { isBase64Protocol, remoteCommandVersion } from './protocols.js';
import { runRemoteCommand, type RemoteCommand, type RemoteCommandStreams } from './remotecommand.js';
import { SpdySession } from './spdy/session.js';
import { serveSpdyPortForward } from './spdy-portforward.js';

export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;
/** v5.channel.k8s.io: a message [255, n] means "channel n is closed by the sender". */
export const CLOSE_CHANNEL = 255;

const NORMAL_CLOSURE = 1000;

/**
 * Channel framing of a Kubernetes WebSocket: every message starts with its
 * channel number (binary protocols) or the channel as an ASCII digit followed
 * by base64 (base64.channel.k8s.io protocols).
 */
class ChannelMux {
  private readonly readers = new Map<number, Readable>();
  private readonly base64: boolean;

  constructor(private readonly ws: WebSocket, protocol: string) {
    this.base64 = isBase64Protocol(protocol);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(toBuffer(data), isBinary));
    ws.on('close', () => {
      for (const reader of this.readers.values()) if (!reader.readableEnded) reader.push(null);
    });
  }

  /** A readable fed by the client's messages on channel. */
  reader(channel: number): Readable {
    return this.attach(channel, new Readable({ read: () => this.resumeInput() }));
  }

  /** Routes the client's messages on channel into target (any Readable, a Duplex included). */
  attach<T extends Readable>(channel: number, target: T): T {
    target.on('error', () => undefined);
    this.readers.set(channel, target);
    return target;
  }

  resumeInput(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  /** A writable whose chunks become messages on channel; finishes once each message is handed to the socket. */
  writer(channel: number): Writable {
    const writable = new Writable({
      write: (chunk: Buffer, _encoding, callback) => this.send(channel, chunk, callback),
    });
    writable.on('error', () => undefined);
    return writable;
  }

  send(channel: number, data: Buffer, callback?: (err?: Error) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      callback?.(new Error('the WebSocket is closed'));
      return;
    }
    const frame = this.base64
      ? Buffer.from(String.fromCharCode(48 + channel) + data.toString('base64'), 'latin1')
      : Buffer.concat([Buffer.from([channel]), data]);
    this.ws.send(frame, { binary: !this.base64 }, (err) => callback?.(err ?? undefined));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (data.length === 0) return;
    let channel: number;
    let payload: Buffer;
    if (this.base64 && !isBinary) {
      channel = data[0]! - 48;
      payload = Buffer.from(data.subarray(1).toString('latin1'), 'base64');
    } else {
      channel = data[0]!;
      payload = data.subarray(1);
    }
    if (channel === CLOSE_CHANNEL) {
      const closed = payload.length > 0 ? this.readers.get(payload[0]!) : undefined;
      if (closed && !closed.readableEnded) closed.push(null);
      return;
    }
    const reader = this.readers.get(channel);
    if (!reader || reader.readableEnded || payload.length === 0) return;
    if (!reader.push(payload)) this.ws.pause();
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function closeSocket(ws: WebSocket): void {
  if (ws.readyState === WebSocket.OPEN) ws.close(NORMAL_CLOSURE);
  // A client that never answers the close handshake must not keep the socket.
  setTimeout(() => ws.terminate(), 5_000).unref();
}

function abortOnClose(ws: WebSocket, stopSignal: AbortSignal, what: string): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const onClose = (): void => abort.abort(new Error(`the ${what} client disconnected`));
  const onStop = (): void => {
    abort.abort(new Error('the streaming server is stopping'));
    ws.terminate();
  };
  ws.once('close', onClose);
  stopSignal.addEventListener('abort', onStop, { once: true });
  return {
    signal: abort.signal,
    dispose: () => {
      ws.off('close', onClose);
      stopSignal.removeEventListener('abort', onStop);
    },
  };
}

/** Exec or attach over the channel.k8s.io family of WebSocket protocols. */
export async function serveWebSocketRemoteCommand(
  ws: WebSocket,
  command: RemoteCommand,
  backend: StreamingBackend,
  stopSignal: AbortSignal,
): Promise<void> {
  const protocol = ws.protocol;
  const version = remoteCommandVersion(protocol);
  const mux = new ChannelMux(ws, protocol);
  const { request } = command;
  const streams: RemoteCommandStreams = {
    stdin: request.stdin ? mux.reader(Channel.stdin) : undefined,
    stdout: request.stdout ? mux.writer(Channel.stdout) : undefined,
    stderr: request.stderr && !request.tty ? mux.writer(Channel.stderr) : undefined,
    error: mux.writer(Channel.error),
    resize: request.tty ? mux.reader(Channel.resize) : undefined,
  };
  // Like kubelet: an empty message on the lowest writable channel tells the client the session is up.
  mux.send(streams.stdout ? Channel.stdout : streams.stderr ? Channel.stderr : Channel.error, Buffer.alloc(0));
  const { signal, dispose } = abortOnClose(ws, stopSignal, 'exec');
  try {
    // Closing the WebSocket ends every channel; client-go ignores close messages from the server.
    await runRemoteCommand(backend, command, streams, version, signal);
  } finally {
    dispose();
    closeSocket(ws);
  }
}

/** A Duplex over one port's data channel, for the backend. */
function channelDuplex(mux: ChannelMux, channel: number): Duplex {
  const duplex = new Duplex({
    read: () => mux.resumeInput(),
    write: (chunk: Buffer, _encoding, callback) => mux.send(channel, chunk, callback),
  });
  return mux.attach(channel, duplex);
}

/**
 * Port forwarding over WebSocket (v4.channel.k8s.io / portforward.k8s.io):
 * one connection per requested port, channels 2i (data) and 2i+1 (error);
 * the first message on each channel carries the port, little-endian.
 */
export async function serveWebSocketPortForward(
  ws: WebSocket,
  podSandboxId: string,
  ports: number[],
  backend: StreamingBackend,
  stopSignal: AbortSignal,
): Promise<void> {
  const mux = new ChannelMux(ws, ws.protocol);
  const { signal, dispose } = abortOnClose(ws, stopSignal, 'port-forward');
  try {
    await Promise.all(
      ports.map(async (port, i) => {
        const dataChannel = i * 2;
        const errorChannel = i * 2 + 1;
        const data = channelDuplex(mux, dataChannel);
        const portBytes = Buffer.alloc(2);
        portBytes.writeUInt16LE(port, 0);
        mux.send(dataChannel, portBytes);
        mux.send(errorChannel, portBytes);
        try {
          await backend.portForward(podSandboxId, port, data, signal);
        } catch (err) {
          mux.send(errorChannel, Buffer.from(`error forwarding port ${port} to pod ${podSandboxId}: ${errorMessage(err)}`, 'utf8'));
        }
      }),
    );
  } finally {
    dispose();
    closeSocket(ws);
  }
}

/** client-go's SPDY-over-WebSocket tunnel: the WebSocket carries a SPDY session byte stream. */
export async function serveWebSocketSpdyTunnel(
  ws: WebSocket,
  podSandboxId: string,
  backend: StreamingBackend,
  options: { streamCreationTimeoutMs: number; stopSignal: AbortSignal },
): Promise<void> {
  const transport = createWebSocketStream(ws);
  transport.on('error', () => undefined);
  const session = new SpdySession(transport, { isServer: true });
  await serveSpdyPortForward(session, podSandboxId, backend, options);
  closeSocket(ws);
}
