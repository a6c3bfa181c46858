import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { SpdySession, type SpdyStream } from '../../src/cri/streaming/spdy/session.js';

export interface WsExecResult {
  protocol: string;
  /** Channel of every message in arrival order, payload stripped. */
  channels: number[];
  output: Map<number, Buffer>;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * A WebSocket channel-protocol client: sends the given (channel, payload)
 * messages once connected and collects everything until the server closes.
 */
export function wsSession(
  url: string,
  protocols: string[],
  send: Array<[number, Buffer]>,
  options: { timeoutMs?: number; base64?: boolean; ca?: Buffer } = {},
): Promise<WsExecResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, { ca: options.ca });
    const output = new Map<number, Buffer>();
    const channels: number[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('WebSocket session did not finish in time'));
    }, options.timeoutMs ?? 30_000);
    ws.on('open', () => {
      for (const [channel, payload] of send) {
        if (options.base64) ws.send(String.fromCharCode(48 + channel) + payload.toString('base64'));
        else ws.send(Buffer.concat([Buffer.from([channel]), payload]));
      }
    });
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      const data = toBuffer(raw);
      const channel = isBinary ? data[0]! : data[0]! - 48;
      const payload = isBinary ? data.subarray(1) : Buffer.from(data.subarray(1).toString(), 'base64');
      channels.push(channel);
      output.set(channel, Buffer.concat([output.get(channel) ?? Buffer.alloc(0), payload]));
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`HTTP ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', () => {
      clearTimeout(timer);
      resolve({ protocol: ws.protocol, channels, output });
    });
  });
}

export interface SpdyUpgrade {
  session: SpdySession;
  protocol: string;
  socket: Socket;
}

/**
 * Upgrades an HTTP request to SPDY/3.1 offering the given stream protocols; rejects with the HTTP status otherwise.
 * An https URL is verified against ca.
 */
export function spdyConnect(url: string, protocols: string[], tls: { ca?: Buffer } = {}): Promise<SpdyUpgrade> {
  return new Promise((resolve, reject) => {
    const options = {
      method: 'POST',
      agent: false as const,
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
    };
    const req = url.startsWith('https:') ? https.request(url, { ...options, ca: tls.ca }) : http.request(url, options);
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const session = new SpdySession(socket, { isServer: false });
      session.feed(head);
      resolve({ session, protocol: String(res.headers['x-stream-protocol-version'] ?? ''), socket });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body.trim()}`), { status: res.statusCode })));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a stream to its end. */
export async function readAll(stream: SpdyStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export type Transport = 'spdy' | 'websocket';

/** An interactive exec/attach client (v4 over SPDY, v5 over WebSocket) for tests that talk to a process as it runs. */
export interface RemoteCommandClient {
  sendStdin(data: string): void;
  /** Ends stdin (a FIN on the SPDY stream, a v5 close message over WebSocket). */
  closeStdin(): void;
  resize(width: number, height: number): void;
  output(stream: 'stdout' | 'stderr'): string;
  /** Resolves once the stream's output matches; rejects if the session ends first or nothing matches within limitMs. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, limitMs?: number): Promise<void>;
  /** Drops the connection without ending anything first. */
  disconnect(): void;
  /** The error channel's content once the server has closed the session. */
  finished: Promise<string>;
}

export interface RemoteCommandStreamsWanted {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

const WS_CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export async function remoteCommandClient(transport: Transport, url: string, wanted: RemoteCommandStreamsWanted): Promise<RemoteCommandClient> {
  const output = { stdout: '', stderr: '' };
  const updates = new EventEmitter();
  let ended = false;
  const append = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
    output[stream] += chunk.toString('utf8');
    updates.emit('update');
  };
  const markEnded = (): void => {
    ended = true;
    updates.emit('update');
  };
  const waitFor = (stream: 'stdout' | 'stderr', pattern: RegExp, limitMs = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(output[stream])) finish();
        else if (ended) finish(new Error(`session ended before ${stream} matched ${pattern}; ${stream}: ${JSON.stringify(output[stream])}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`${stream} did not match ${pattern} within ${limitMs} ms; ${stream}: ${JSON.stringify(output[stream])}`)),
        limitMs,
      );
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        updates.off('update', check);
        if (err) reject(err);
        else resolve();
      };
      updates.on('update', check);
      check();
    });

  if (transport === 'spdy') {
    const { session, socket } = await spdyConnect(url, ['v4.channel.k8s.io']);
    const error = await session.openStream({ streamtype: ['error'] });
    const stdin = wanted.stdin ? await session.openStream({ streamtype: ['stdin'] }) : undefined;
    const stdout = wanted.stdout ? await session.openStream({ streamtype: ['stdout'] }) : undefined;
    const stderr = wanted.stderr && !wanted.tty ? await session.openStream({ streamtype: ['stderr'] }) : undefined;
    const resize = wanted.tty ? await session.openStream({ streamtype: ['resize'] }) : undefined;
    stdout?.on('data', (c: Buffer) => append('stdout', c));
    stderr?.on('data', (c: Buffer) => append('stderr', c));
    const finished = (async () => {
      const status = await readAll(error);
      if (!session.isClosed) await new Promise((resolve) => session.once('close', resolve));
      return status.toString('utf8');
    })();
    void finished.finally(markEnded).catch(() => undefined);
    return {
      sendStdin: (data) => stdin?.write(data),
      closeStdin: () => stdin?.end(),
      resize: (width, height) => resize?.write(JSON.stringify({ Width: width, Height: height })),
      output: (stream) => output[stream],
      waitFor,
      disconnect: () => socket.destroy(),
      finished,
    };
  }

  const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
  let status = '';
  const finished = new Promise<string>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', () => resolve(status));
  });
  void finished.finally(markEnded).catch(() => undefined);
  ws.on('message', (raw: RawData) => {
    const data = toBuffer(raw);
    const payload = data.subarray(1);
    if (data[0] === WS_CHANNEL.stdout) append('stdout', payload);
    else if (data[0] === WS_CHANNEL.stderr) append('stderr', payload);
    else if (data[0] === WS_CHANNEL.error) status += payload.toString('utf8');
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const send = (channel: number, payload: Buffer): void => ws.send(Buffer.concat([Buffer.from([channel]), payload]));
  return {
    sendStdin: (data) => send(WS_CHANNEL.stdin, Buffer.from(data)),
    closeStdin: () => send(WS_CHANNEL.close, Buffer.from([WS_CHANNEL.stdin])),
    resize: (width, height) => send(WS_CHANNEL.resize, Buffer.from(JSON.stringify({ Width: width, Height: height }))),
    output: (stream) => output[stream],
    waitFor,
    disconnect: () => ws.terminate(),
    finished,
  };
}
