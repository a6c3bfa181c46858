import http from 'node:http';
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
  options: { timeoutMs?: number; base64?: boolean; rejectUnauthorized?: boolean } = {},
): Promise<WsExecResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, { rejectUnauthorized: options.rejectUnauthorized ?? true });
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

/** Upgrades an HTTP request to SPDY/3.1 offering the given stream protocols; rejects with the HTTP status otherwise. */
export function spdyConnect(url: string, protocols: string[]): Promise<SpdyUpgrade> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
    });
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
