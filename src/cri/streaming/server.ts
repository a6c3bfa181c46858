import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { FailedPreconditionError, InvalidArgumentError, errorMessage } from '../../core/errors.js';
import type { StreamingBackend } from './backend.js';
import { rejectUpgrade } from './http-util.js';
import {
  SPDY_PORTFORWARD_PROTOCOLS,
  SPDY_REMOTECOMMAND_PROTOCOLS,
  WS_PORTFORWARD_PROTOCOLS,
  WS_REMOTECOMMAND_PROTOCOLS,
  WS_SPDY_TUNNEL_PROTOCOL,
  negotiate,
  splitHeaderList,
} from './protocols.js';
import { RequestCache, type AttachRequest, type CachedRequest, type ExecRequest, type PortForwardRequest, type RequestKind } from './request-cache.js';
import { parsePort, serveSpdyPortForward } from './spdy-portforward.js';
import { serveSpdyRemoteCommand } from './spdy-remotecommand.js';
import { acceptSpdyUpgrade, isSpdyUpgrade } from './spdy/upgrade.js';

/** What the server logs through; a winston logger fits. */
export interface StreamingLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface StreamingServerOptions {
  /** Interface to listen on (berth.toml [stream] address). */
  address: string;
  /** 0 picks a free port. */
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  backend: StreamingBackend;
  /** How long a URL handed out by Exec/Attach/PortForward stays usable. */
  tokenTtlMs?: number;
  /** How long a client may take to open its streams after upgrading. */
  streamCreationTimeoutMs?: number;
  /** Host put in URLs; defaults to address, or 127.0.0.1 when listening on every interface. */
  advertiseAddress?: string;
  maxPendingRequests?: number;
  logger?: StreamingLogger;
}

const TUNNEL_STAND_IN = 'berth-spdy-tunnel';

const PATHS: Record<RequestKind, string> = { exec: 'exec', attach: 'attach', portforward: 'portforward' };
const PATH_PATTERN = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;

function urlHost(address: string): string {
  if (address === '0.0.0.0' || address === '::' || address === '') return '127.0.0.1';
  return isIP(address) === 6 ? `[${address}]` : address;
}

function validateIo(req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (req.tty && req.stderr) throw new InvalidArgumentError('tty and stderr cannot both be true: a terminal merges stderr into stdout');
  if (!req.stdin && !req.stdout && !req.stderr) throw new InvalidArgumentError('one of stdin, stdout, or stderr must be set');
}

interface WebSocketSupport {
  wss: WebSocketServer;
  handlers: typeof import('./websocket.js');
}

/**
 * The CRI streaming server (kubelet's pkg/kubelet/cri/streaming): Exec, Attach
 * and PortForward answer with a single-use URL here; the client connects and
 * upgrades to SPDY/3.1 or WebSocket, and the backend does the work.
 */
export class StreamingServer {
  private readonly cache: RequestCache;
  /** ws and the WebSocket handlers load on the first WebSocket upgrade: a daemon nobody execs into does not carry them. */
  private webSocket: Promise<WebSocketSupport> | undefined;
  private wss: WebSocketServer | undefined;
  private readonly chosenWsProtocol = new WeakMap<IncomingMessage, string>();
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Promise<void>>();
  private readonly stopController = new AbortController();
  private server: http.Server | https.Server | undefined;
  private base: string | undefined;

  constructor(private readonly options: StreamingServerOptions) {
    this.cache = new RequestCache(options.tokenTtlMs ?? 60_000, options.maxPendingRequests ?? 1000);
  }

  /** Listens and returns the base URL (http[s]://host:port). */
  async start(): Promise<string> {
    if (this.server) throw new FailedPreconditionError('the streaming server is already started');
    const server = this.options.tls ? https.createServer({ cert: this.options.tls.cert, key: this.options.tls.key }) : http.createServer();
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onPlainRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('clientError', (_err, socket: Duplex) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const scheme = this.options.tls ? 'https' : 'http';
    this.base = `${scheme}://${urlHost(this.options.advertiseAddress ?? this.options.address)}:${port}`;
    return this.base;
  }

  /** Stops listening, ends every session (the backend sees its signal abort) and drops every socket. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.stopController.abort(new Error('the streaming server is stopping'));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    await Promise.allSettled([...this.sessions]);
    await closed;
    this.wss?.close();
    this.server = undefined;
  }

  get baseUrl(): string {
    if (!this.base) throw new FailedPreconditionError('the streaming server is not started');
    return this.base;
  }

  /** Sessions currently being served (exec/attach/port-forward connections). */
  get activeSessions(): number {
    return this.sessions.size;
  }

  getExecUrl(req: ExecRequest): string {
    if (!req.containerId) throw new InvalidArgumentError('container id is required for exec');
    if (req.cmd.length === 0) throw new InvalidArgumentError('cmd is required for exec');
    validateIo(req);
    return this.urlFor({ kind: 'exec', request: { ...req, cmd: [...req.cmd] } });
  }

  getAttachUrl(req: AttachRequest): string {
    if (!req.containerId) throw new InvalidArgumentError('container id is required for attach');
    validateIo(req);
    return this.urlFor({ kind: 'attach', request: { ...req } });
  }

  getPortForwardUrl(req: PortForwardRequest): string {
    if (!req.podSandboxId) throw new InvalidArgumentError('pod sandbox id is required for port forward');
    return this.urlFor({ kind: 'portforward', request: { ...req } });
  }

  private urlFor(value: CachedRequest): string {
    const base = this.baseUrl;
    return `${base}/${PATHS[value.kind]}/${this.cache.insert(value)}`;
  }

  /** Looks the token of a request path up, consuming it. */
  private take(rawUrl: string | undefined): { cached: CachedRequest; query: URLSearchParams } | undefined {
    const url = new URL(rawUrl ?? '/', 'http://streaming.invalid');
    const match = PATH_PATTERN.exec(url.pathname);
    if (!match) return undefined;
    const cached = this.cache.consume(match[2]!);
    if (!cached || cached.kind !== match[1]) return undefined;
    return { cached, query: url.searchParams };
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const found = this.take(req.url);
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('unknown or expired streaming token\n');
      return;
    }
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('streaming requests must upgrade to SPDY/3.1 or WebSocket\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const found = this.take(req.url);
    if (!found) {
      rejectUpgrade(socket, 404, 'unknown or expired streaming token');
      return;
    }
    const { cached, query } = found;
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') this.acceptWebSocket(req, socket, head, cached, query);
    else if (isSpdyUpgrade(req)) this.acceptSpdy(req, socket, head, cached);
    else rejectUpgrade(socket, 400, `unsupported upgrade "${req.headers.upgrade ?? ''}": use SPDY/3.1 or websocket`);
  }

  private track(what: string, work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.options.logger?.warn('streaming session failed', { session: what, error: errorMessage(err) });
    });
    this.sessions.add(tracked);
    void tracked.finally(() => this.sessions.delete(tracked));
  }

  private acceptSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, cached: CachedRequest): void {
    const protocols = cached.kind === 'portforward' ? SPDY_PORTFORWARD_PROTOCOLS : SPDY_REMOTECOMMAND_PROTOCOLS;
    const accepted = acceptSpdyUpgrade(req, socket, head, protocols);
    if (!accepted) return;
    const { session, protocol } = accepted;
    const timeouts = { streamCreationTimeoutMs: this.options.streamCreationTimeoutMs ?? 30_000, stopSignal: this.stopController.signal };
    this.options.logger?.debug('streaming session', { kind: cached.kind, transport: 'spdy', protocol });
    if (cached.kind === 'portforward') {
      this.track('portforward', serveSpdyPortForward(session, cached.request.podSandboxId, this.options.backend, timeouts));
    } else {
      this.track(cached.kind, serveSpdyRemoteCommand(session, protocol, cached, this.options.backend, timeouts));
    }
  }

  private loadWebSocket(): Promise<WebSocketSupport> {
    this.webSocket ??= Promise.all([import('ws'), import('./websocket.js')]).then(([{ WebSocketServer: Server }, handlers]) => {
      const wss = new Server({ noServer: true, handleProtocols: (_offered, req) => this.chosenWsProtocol.get(req) ?? false });
      wss.on('headers', (headers: string[], req: IncomingMessage) => {
        if (this.chosenWsProtocol.get(req) !== TUNNEL_STAND_IN) return;
        const i = headers.findIndex((h) => h.toLowerCase() === `sec-websocket-protocol: ${TUNNEL_STAND_IN}`);
        if (i >= 0) headers[i] = `Sec-WebSocket-Protocol: ${WS_SPDY_TUNNEL_PROTOCOL}`;
      });
      this.wss = wss;
      return { wss, handlers };
    });
    this.webSocket.catch(() => (this.webSocket = undefined));
    return this.webSocket;
  }

  private acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, cached: CachedRequest, query: URLSearchParams): void {
    const offered = splitHeaderList(req.headers['sec-websocket-protocol']);
    const supported: readonly string[] =
      cached.kind === 'portforward' ? [...WS_PORTFORWARD_PROTOCOLS, WS_SPDY_TUNNEL_PROTOCOL] : WS_REMOTECOMMAND_PROTOCOLS;
    const protocol = offered.length === 0 ? '' : negotiate(offered, supported);
    if (protocol === undefined) {
      rejectUpgrade(socket, 400, `unable to negotiate a WebSocket sub-protocol: client offers [${offered.join(' ')}], server accepts [${supported.join(' ')}]`);
      return;
    }
    let ports: number[] = [];
    if (cached.kind === 'portforward' && protocol !== WS_SPDY_TUNNEL_PROTOCOL) {
      const raw = [...query.getAll('port'), ...query.getAll('ports')].flatMap((v) => v.split(','));
      const parsed = raw.map((v) => parsePort(v.trim()));
      if (parsed.length === 0 || parsed.some((p) => p === undefined)) {
        rejectUpgrade(socket, 400, 'query parameter "port" must name one or more ports between 1 and 65535');
        return;
      }
      ports = parsed as number[];
    }
    if (protocol === WS_SPDY_TUNNEL_PROTOCOL) {
      // ws refuses "/" in sub-protocol names; negotiate a stand-in and restore the real name in the 101 response.
      req.headers['sec-websocket-protocol'] = TUNNEL_STAND_IN;
      this.chosenWsProtocol.set(req, TUNNEL_STAND_IN);
    } else if (protocol) this.chosenWsProtocol.set(req, protocol);
    // Meanwhile node keeps what the client sends on the upgraded socket until it is read.
    this.loadWebSocket().then(
      ({ wss, handlers }) =>
        wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          this.options.logger?.debug('streaming session', { kind: cached.kind, transport: 'websocket', protocol });
          const stopSignal = this.stopController.signal;
          if (cached.kind !== 'portforward') {
            this.track(cached.kind, handlers.serveWebSocketRemoteCommand(ws, cached, this.options.backend, stopSignal));
          } else if (protocol === WS_SPDY_TUNNEL_PROTOCOL) {
            const timeouts = { streamCreationTimeoutMs: this.options.streamCreationTimeoutMs ?? 30_000, stopSignal };
            this.track('portforward', handlers.serveWebSocketSpdyTunnel(ws, cached.request.podSandboxId, this.options.backend, timeouts));
          } else {
            this.track('portforward', handlers.serveWebSocketPortForward(ws, cached.request.podSandboxId, ports, this.options.backend, stopSignal));
          }
        }),
      (err: unknown) => {
        this.options.logger?.warn('loading WebSocket support failed', { error: errorMessage(err) });
        rejectUpgrade(socket, 500, 'WebSocket streaming is unavailable');
      },
    );
  }
}
