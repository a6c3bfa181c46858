import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameParser,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SpdyProtocolError,
  encodeFrame,
  type SpdyFrame,
} from './frames.js';
import { HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './header-codec.js';

/** SPDY/3.1 starts every stream window, and the session window, at 64 KiB. */
export const DEFAULT_WINDOW = 64 * 1024;
/** Largest DATA frame we send; smaller than the window so one stream cannot hog the link. */
const MAX_DATA_CHUNK = 32 * 1024;
/** How long a closed session waits for the peer to hang up before dropping the socket. */
const LINGER_MS = 5_000;

export interface SpdySessionOptions {
  /** Servers accept odd (client-initiated) streams and open even ones. */
  isServer: boolean;
  /** Answer every new peer stream with an empty SYN_REPLY before announcing it (what kubelet does). */
  autoReply?: boolean;
}

type WindowWaiter = () => void;

/**
 * One SPDY stream as a Node Duplex: readable = DATA the peer sends, writable =
 * DATA we send; ending the writable side sends FIN, the peer's FIN ends the
 * readable side. Errors never surface as 'error' events (nobody would handle
 * them); a broken session destroys its streams quietly instead.
 */
export class SpdyStream extends Duplex {
  /** @internal */ localClosed = false;
  /** @internal */ remoteClosed = false;
  /** @internal */ replied = false;
  /** @internal */ sendWindow: number;
  /** @internal */ windowWaiter: WindowWaiter | undefined;
  /** @internal */ unackedBytes = 0;
  /** @internal */ blocked = false;
  private readonly replyWaiters: Array<(err?: Error) => void> = [];

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
    initialWindow: number,
  ) {
    super({ allowHalfOpen: true });
    this.sendWindow = initialWindow;
    this.on('error', () => undefined);
  }

  /** Sends SYN_REPLY (once). */
  reply(headers: SpdyHeaders = {}): void {
    if (this.replied) return;
    this.replied = true;
    this.session.sendControl({ kind: 'syn_reply', streamId: this.id, flags: 0, headerBlock: this.session.compressHeaders(headers) });
  }

  /** Resolves when the peer answered a stream we opened. */
  waitForReply(): Promise<void> {
    if (this.replied) return Promise.resolve();
    return new Promise((resolve, reject) => this.replyWaiters.push((err) => (err ? reject(err) : resolve())));
  }

  /** Abruptly cancels the stream in both directions (RST_STREAM CANCEL). */
  reset(): void {
    if (!(this.localClosed && this.remoteClosed)) this.session.sendControl({ kind: 'rst_stream', streamId: this.id, status: RstStatus.Cancel });
    this.localClosed = true;
    this.remoteClosed = true;
    this.session.forget(this);
    this.destroy();
  }

  /** @internal */
  settleReply(err?: Error): void {
    this.replied = true;
    for (const waiter of this.replyWaiters.splice(0)) waiter(err);
  }

  override _read(): void {
    if (this.blocked) {
      this.blocked = false;
      this.session.unblock(this);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.localClosed) {
      callback(new Error(`write on SPDY stream ${this.id} after it was closed`));
      return;
    }
    this.session.sendData(this, chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.localClosed) {
      this.localClosed = true;
      this.session.sendControl({ kind: 'data', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
      this.session.maybeForget(this);
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settleReply(error ?? new Error(`SPDY stream ${this.id} closed before the peer replied`));
    if (this.windowWaiter) {
      const waiter = this.windowWaiter;
      this.windowWaiter = undefined;
      waiter();
    }
    if (!(this.localClosed && this.remoteClosed) && !this.session.isClosed) {
      this.session.sendControl({ kind: 'rst_stream', streamId: this.id, status: RstStatus.Cancel });
      this.localClosed = true;
      this.remoteClosed = true;
    }
    this.session.forget(this);
    callback(error);
  }
}

/**
 * A SPDY/3.1 session over any byte stream (a TCP/TLS socket after the HTTP
 * upgrade, or a WebSocket tunnel). Emits 'stream' for each stream the peer
 * opens and 'close' once the transport is gone.
 */
export class SpdySession extends EventEmitter {
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly blockedStreams = new Set<SpdyStream>();
  private readonly pings = new Map<number, () => void>();
  private readonly inbound: SpdyFrame[] = [];
  private draining = false;
  private transportGone = false;
  private nextStreamId: number;
  private nextPingId: number;
  private lastPeerStreamId = 0;
  private goneAway = false;
  private closed = false;
  /** Peers such as Go's spdystream never send WINDOW_UPDATE; we only wait on windows once a peer shows it does flow control. */
  private peerFlowControl = false;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sessionSendWindow = DEFAULT_WINDOW;
  private sessionUnacked = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly transport: Duplex, private readonly options: SpdySessionOptions) {
    super();
    this.nextStreamId = options.isServer ? 2 : 1;
    this.nextPingId = options.isServer ? 2 : 1;
    transport.on('data', (chunk: Buffer) => this.onBytes(chunk));
    transport.on('drain', () => {
      for (const waiter of this.drainWaiters.splice(0)) waiter();
    });
    // Frames already received are still handled after the peer hangs up (header inflation is async).
    transport.on('end', () => this.onTransportGone());
    transport.on('close', () => this.onTransportGone());
    transport.on('error', () => this.destroy());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Feeds bytes that arrived before the session took over the transport (the HTTP upgrade head). */
  feed(head: Buffer): void {
    if (head.length > 0) this.onBytes(head);
  }

  /** Opens a stream to the peer; resolves once the peer answers with SYN_REPLY. */
  async openStream(headers: SpdyHeaders, options: { fin?: boolean } = {}): Promise<SpdyStream> {
    if (this.closed || this.goneAway) throw new Error('cannot open a SPDY stream on a closing session');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, this.peerInitialWindow);
    this.streams.set(id, stream);
    if (options.fin) stream.localClosed = true;
    this.sendControl({
      kind: 'syn_stream',
      streamId: id,
      associatedStreamId: 0,
      priority: 0,
      flags: options.fin ? FLAG_FIN : 0,
      headerBlock: this.compressor.compress(headers),
    });
    if (options.fin) stream.end();
    await stream.waitForReply();
    return stream;
  }

  ping(): Promise<void> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('SPDY session closed'));
        return;
      }
      this.pings.set(id, resolve);
      this.sendControl({ kind: 'ping', id });
    });
  }

  /**
   * Graceful end: GOAWAY, then half-close the transport. Streams still open are
   * cancelled. The transport is dropped once the peer hangs up or after a short linger.
   */
  close(): void {
    if (this.closed) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.sendControl({ kind: 'goaway', lastGoodStreamId: this.lastPeerStreamId, status: 0 });
    }
    for (const stream of [...this.streams.values()]) {
      // Streams we already finished need no RST: the peer may still be reading what we sent.
      if (stream.localClosed) stream.remoteClosed = true;
      stream.destroy();
    }
    this.transport.end();
    this.lingerTimer = setTimeout(() => this.destroy(), LINGER_MS);
    this.lingerTimer.unref();
  }

  destroy(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    for (const stream of [...this.streams.values()]) {
      if (stream.remoteClosed) {
        // Everything the peer sent is buffered up to its FIN: let the reader drain it.
        stream.localClosed = true;
        stream.end();
      } else stream.destroy();
    }
    this.streams.clear();
    this.blockedStreams.clear();
    this.pings.clear();
    this.drainWaiters = [];
    this.decompressor.close();
    this.transport.destroy();
    this.emit('close', err);
  }

  /** @internal */
  compressHeaders(headers: SpdyHeaders): Buffer {
    return this.compressor.compress(headers);
  }

  /** @internal Control frames (and the empty FIN data frame) bypass flow control. */
  sendControl(frame: SpdyFrame): void {
    if (this.closed || this.transport.writableEnded) return;
    this.transport.write(encodeFrame(frame));
  }

  /** @internal */
  sendData(stream: SpdyStream, chunk: Buffer, callback: (error?: Error | null) => void): void {
    let offset = 0;
    const pump = (): void => {
      if (this.closed || stream.destroyed || this.transport.writableEnded) {
        callback(new Error(`SPDY stream ${stream.id} is closed`));
        return;
      }
      while (offset < chunk.length) {
        let allowed = Math.min(MAX_DATA_CHUNK, chunk.length - offset);
        if (this.peerFlowControl) {
          allowed = Math.min(allowed, stream.sendWindow, this.sessionSendWindow);
          if (allowed <= 0) {
            stream.windowWaiter = pump;
            return;
          }
        }
        const piece = chunk.subarray(offset, offset + allowed);
        offset += allowed;
        stream.sendWindow -= allowed;
        this.sessionSendWindow -= allowed;
        const flushed = this.transport.write(encodeFrame({ kind: 'data', streamId: stream.id, flags: 0, data: piece }));
        if (!flushed) {
          this.drainWaiters.push(pump);
          return;
        }
      }
      callback();
    };
    pump();
  }

  /** @internal Called when both directions of a stream are done. */
  maybeForget(stream: SpdyStream): void {
    if (stream.localClosed && stream.remoteClosed) this.forget(stream);
  }

  /** @internal */
  forget(stream: SpdyStream): void {
    this.streams.delete(stream.id);
    if (this.blockedStreams.delete(stream)) this.resumeIfUnblocked();
  }

  /** @internal A stream's reader caught up: credit the peer and maybe resume reading the transport. */
  unblock(stream: SpdyStream): void {
    this.creditPeer(stream);
    if (this.blockedStreams.delete(stream)) this.resumeIfUnblocked();
  }

  private resumeIfUnblocked(): void {
    if (this.blockedStreams.size === 0 && !this.closed) this.transport.resume();
  }

  private creditPeer(stream: SpdyStream): void {
    if (stream.unackedBytes > 0 && !stream.remoteClosed) {
      this.sendControl({ kind: 'window_update', streamId: stream.id, delta: stream.unackedBytes });
    }
    stream.unackedBytes = 0;
    if (this.sessionUnacked > 0) {
      this.sendControl({ kind: 'window_update', streamId: 0, delta: this.sessionUnacked });
      this.sessionUnacked = 0;
    }
  }

  private onTransportGone(): void {
    this.transportGone = true;
    if (!this.draining) this.destroy();
  }

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    let frames: SpdyFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      this.failSession(err as Error);
      return;
    }
    this.inbound.push(...frames);
    if (!this.draining) void this.drainInbound();
  }

  /** Frames are handled strictly in order; only header inflation is asynchronous. */
  private async drainInbound(): Promise<void> {
    this.draining = true;
    try {
      while (this.inbound.length > 0 && !this.closed) {
        const frame = this.inbound.shift()!;
        const pending = this.handleFrame(frame);
        if (pending) await pending;
      }
    } catch (err) {
      this.failSession(err as Error);
    } finally {
      this.draining = false;
      if (this.transportGone) this.destroy();
    }
  }

  private failSession(err: Error): void {
    if (this.closed) return;
    if (err instanceof SpdyProtocolError) this.sendControl({ kind: 'goaway', lastGoodStreamId: this.lastPeerStreamId, status: 1 });
    this.destroy(err);
  }

  private handleFrame(frame: SpdyFrame): Promise<void> | undefined {
    switch (frame.kind) {
      case 'syn_stream':
        return this.onSynStream(frame);
      case 'syn_reply':
        return this.decompressor.decompress(frame.headerBlock).then(() => {
          const stream = this.streams.get(frame.streamId);
          if (!stream) return;
          stream.settleReply();
          if (frame.flags & FLAG_FIN) this.onRemoteFin(stream);
        });
      case 'headers':
        return this.decompressor.decompress(frame.headerBlock).then(() => {
          const stream = this.streams.get(frame.streamId);
          if (stream && frame.flags & FLAG_FIN) this.onRemoteFin(stream);
        });
      case 'data':
        this.onData(frame.streamId, frame.flags, frame.data);
        return undefined;
      case 'rst_stream': {
        const stream = this.streams.get(frame.streamId);
        if (stream) {
          stream.localClosed = true;
          stream.remoteClosed = true;
          this.forget(stream);
          stream.destroy();
        }
        return undefined;
      }
      case 'settings':
        for (const entry of frame.entries) {
          if (entry.id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          const delta = entry.value - this.peerInitialWindow;
          this.peerInitialWindow = entry.value;
          this.peerFlowControl = true;
          for (const stream of this.streams.values()) stream.sendWindow += delta;
          this.wakeWindowWaiters();
        }
        return undefined;
      case 'ping':
        if ((frame.id & 1) === (this.options.isServer ? 1 : 0)) this.sendControl({ kind: 'ping', id: frame.id });
        else {
          const resolve = this.pings.get(frame.id);
          this.pings.delete(frame.id);
          resolve?.();
        }
        return undefined;
      case 'goaway':
        this.goneAway = true;
        if (this.streams.size === 0) this.close();
        return undefined;
      case 'window_update':
        this.peerFlowControl = true;
        if (frame.streamId === 0) this.sessionSendWindow += frame.delta;
        else {
          const stream = this.streams.get(frame.streamId);
          if (stream) stream.sendWindow += frame.delta;
        }
        this.wakeWindowWaiters();
        return undefined;
      case 'unknown':
        return undefined;
    }
  }

  private wakeWindowWaiters(): void {
    for (const stream of this.streams.values()) {
      if (stream.windowWaiter && stream.sendWindow > 0 && this.sessionSendWindow > 0) {
        const waiter = stream.windowWaiter;
        stream.windowWaiter = undefined;
        waiter();
      }
    }
  }

  private async onSynStream(frame: Extract<SpdyFrame, { kind: 'syn_stream' }>): Promise<void> {
    // Inflate even for streams we refuse: the shared zlib context must see every block.
    const headers = await this.decompressor.decompress(frame.headerBlock);
    const peerParity = this.options.isServer ? 1 : 0;
    if ((frame.streamId & 1) !== peerParity || frame.streamId <= this.lastPeerStreamId) {
      this.sendControl({ kind: 'rst_stream', streamId: frame.streamId, status: RstStatus.ProtocolError });
      return;
    }
    this.lastPeerStreamId = frame.streamId;
    if (this.goneAway) {
      this.sendControl({ kind: 'rst_stream', streamId: frame.streamId, status: RstStatus.RefusedStream });
      return;
    }
    const stream = new SpdyStream(this, frame.streamId, headers, this.peerInitialWindow);
    this.streams.set(stream.id, stream);
    if (frame.flags & FLAG_UNIDIRECTIONAL) {
      stream.localClosed = true;
      stream.end();
    }
    if (this.options.autoReply !== false) stream.reply();
    if (frame.flags & FLAG_FIN) this.onRemoteFin(stream);
    this.emit('stream', stream);
  }

  private onData(streamId: number, flags: number, data: Buffer): void {
    const stream = this.streams.get(streamId);
    if (!stream) {
      // Data for a stream we already forgot (reset or finished): tell the peer once it is not FIN noise.
      if (data.length > 0) this.sendControl({ kind: 'rst_stream', streamId, status: RstStatus.InvalidStream });
      return;
    }
    if (data.length > 0 && !stream.remoteClosed) {
      stream.unackedBytes += data.length;
      this.sessionUnacked += data.length;
      if (stream.push(data)) this.creditPeer(stream);
      else if (!stream.blocked) {
        stream.blocked = true;
        this.blockedStreams.add(stream);
        this.transport.pause();
      }
    }
    if (flags & FLAG_FIN) this.onRemoteFin(stream);
  }

  private onRemoteFin(stream: SpdyStream): void {
    if (stream.remoteClosed) return;
    stream.remoteClosed = true;
    stream.push(null);
    this.maybeForget(stream);
  }
}
