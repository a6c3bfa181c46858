/**
 * SPDY/3.1 frame layout (draft-mbelshe-httpbis-spdy-00 + the 3.1 session window):
 * encoding to bytes and an incremental parser. Header blocks stay opaque here
 * (compressed bytes); header-codec.ts turns them into name/value pairs.
 */

export const SPDY_VERSION = 3;

export const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
} as const;

export const SETTINGS_INITIAL_WINDOW_SIZE = 7;

/** The largest length a frame header can express (24 bits). */
export const MAX_FRAME_LENGTH = 0xffffff;

export type SpdyFrame =
  | { kind: 'data'; streamId: number; flags: number; data: Buffer }
  | { kind: 'syn_stream'; streamId: number; associatedStreamId: number; priority: number; flags: number; headerBlock: Buffer }
  | { kind: 'syn_reply'; streamId: number; flags: number; headerBlock: Buffer }
  | { kind: 'headers'; streamId: number; flags: number; headerBlock: Buffer }
  | { kind: 'rst_stream'; streamId: number; status: number }
  | { kind: 'settings'; flags: number; entries: SettingsEntry[] }
  | { kind: 'ping'; id: number }
  | { kind: 'goaway'; lastGoodStreamId: number; status: number }
  | { kind: 'window_update'; streamId: number; delta: number }
  | { kind: 'unknown'; type: number; flags: number; payload: Buffer };

export interface SettingsEntry {
  flags: number;
  id: number;
  value: number;
}

export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(`SPDY protocol error: ${message}`);
    this.name = 'SpdyProtocolError';
  }
}

const STREAM_ID_MASK = 0x7fffffff;

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_LENGTH) throw new SpdyProtocolError(`control frame of ${payload.length} bytes is too large`);
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  header.writeUInt16BE(type, 2);
  header.writeUInt32BE(payload.length, 4);
  header.writeUInt8(flags, 4);
  return Buffer.concat([header, payload]);
}

export function encodeFrame(frame: SpdyFrame): Buffer {
  switch (frame.kind) {
    case 'data': {
      if (frame.data.length > MAX_FRAME_LENGTH) throw new SpdyProtocolError(`data frame of ${frame.data.length} bytes is too large`);
      const header = Buffer.alloc(8);
      header.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      header.writeUInt32BE(frame.data.length, 4);
      header.writeUInt8(frame.flags, 4);
      return Buffer.concat([header, frame.data]);
    }
    case 'syn_stream': {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      fixed.writeUInt32BE(frame.associatedStreamId & STREAM_ID_MASK, 4);
      fixed.writeUInt8((frame.priority & 0x7) << 5, 8);
      return controlFrame(FrameType.SynStream, frame.flags, Buffer.concat([fixed, frame.headerBlock]));
    }
    case 'syn_reply':
    case 'headers': {
      const fixed = Buffer.alloc(4);
      fixed.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      const type = frame.kind === 'syn_reply' ? FrameType.SynReply : FrameType.Headers;
      return controlFrame(type, frame.flags, Buffer.concat([fixed, frame.headerBlock]));
    }
    case 'rst_stream': {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      payload.writeUInt32BE(frame.status, 4);
      return controlFrame(FrameType.RstStream, 0, payload);
    }
    case 'settings': {
      const payload = Buffer.alloc(4 + 8 * frame.entries.length);
      payload.writeUInt32BE(frame.entries.length, 0);
      frame.entries.forEach((entry, i) => {
        payload.writeUInt32BE(entry.id & 0xffffff, 4 + i * 8);
        payload.writeUInt8(entry.flags, 4 + i * 8);
        payload.writeUInt32BE(entry.value >>> 0, 8 + i * 8);
      });
      return controlFrame(FrameType.Settings, frame.flags, payload);
    }
    case 'ping': {
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(frame.id >>> 0, 0);
      return controlFrame(FrameType.Ping, 0, payload);
    }
    case 'goaway': {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(frame.lastGoodStreamId & STREAM_ID_MASK, 0);
      payload.writeUInt32BE(frame.status, 4);
      return controlFrame(FrameType.GoAway, 0, payload);
    }
    case 'window_update': {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      payload.writeUInt32BE(frame.delta & STREAM_ID_MASK, 4);
      return controlFrame(FrameType.WindowUpdate, 0, payload);
    }
    case 'unknown':
      return controlFrame(frame.type, frame.flags, frame.payload);
  }
}

function requireLength(type: string, payload: Buffer, min: number): void {
  if (payload.length < min) throw new SpdyProtocolError(`${type} frame needs at least ${min} bytes, got ${payload.length}`);
}

function decodeControl(type: number, flags: number, payload: Buffer): SpdyFrame {
  switch (type) {
    case FrameType.SynStream:
      requireLength('SYN_STREAM', payload, 10);
      return {
        kind: 'syn_stream',
        streamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        associatedStreamId: payload.readUInt32BE(4) & STREAM_ID_MASK,
        priority: payload.readUInt8(8) >> 5,
        flags,
        headerBlock: payload.subarray(10),
      };
    case FrameType.SynReply:
    case FrameType.Headers:
      requireLength(type === FrameType.SynReply ? 'SYN_REPLY' : 'HEADERS', payload, 4);
      return {
        kind: type === FrameType.SynReply ? 'syn_reply' : 'headers',
        streamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        flags,
        headerBlock: payload.subarray(4),
      };
    case FrameType.RstStream:
      requireLength('RST_STREAM', payload, 8);
      return { kind: 'rst_stream', streamId: payload.readUInt32BE(0) & STREAM_ID_MASK, status: payload.readUInt32BE(4) };
    case FrameType.Settings: {
      requireLength('SETTINGS', payload, 4);
      const count = payload.readUInt32BE(0);
      requireLength('SETTINGS', payload, 4 + count * 8);
      const entries: SettingsEntry[] = [];
      for (let i = 0; i < count; i++) {
        const base = 4 + i * 8;
        entries.push({ flags: payload.readUInt8(base), id: payload.readUInt32BE(base) & 0xffffff, value: payload.readUInt32BE(base + 4) });
      }
      return { kind: 'settings', flags, entries };
    }
    case FrameType.Ping:
      requireLength('PING', payload, 4);
      return { kind: 'ping', id: payload.readUInt32BE(0) };
    case FrameType.GoAway:
      // SPDY/2 peers sent GOAWAY without a status; tolerate the short form.
      requireLength('GOAWAY', payload, 4);
      return {
        kind: 'goaway',
        lastGoodStreamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        status: payload.length >= 8 ? payload.readUInt32BE(4) : 0,
      };
    case FrameType.WindowUpdate:
      requireLength('WINDOW_UPDATE', payload, 8);
      return { kind: 'window_update', streamId: payload.readUInt32BE(0) & STREAM_ID_MASK, delta: payload.readUInt32BE(4) & STREAM_ID_MASK };
    default:
      return { kind: 'unknown', type, flags, payload };
  }
}

/**
 * Accumulates bytes from the wire and yields whole frames. Bytes of a partial
 * frame stay buffered until the rest arrives.
 */
export class FrameParser {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameLength = MAX_FRAME_LENGTH) {}

  push(chunk: Buffer): SpdyFrame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: SpdyFrame[] = [];
    let offset = 0;
    while (this.buffered.length - offset >= 8) {
      const first = this.buffered.readUInt32BE(offset);
      const flags = this.buffered.readUInt8(offset + 4);
      const length = this.buffered.readUInt32BE(offset + 4) & 0xffffff;
      if (length > this.maxFrameLength) throw new SpdyProtocolError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameLength}`);
      if (this.buffered.length - offset < 8 + length) break;
      const payload = Buffer.from(this.buffered.subarray(offset + 8, offset + 8 + length));
      offset += 8 + length;
      if (first & 0x80000000) {
        const version = (first >>> 16) & 0x7fff;
        if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
        frames.push(decodeControl(first & 0xffff, flags, payload));
      } else {
        frames.push({ kind: 'data', streamId: first & STREAM_ID_MASK, flags, data: payload });
      }
    }
    this.buffered = offset === this.buffered.length ? Buffer.alloc(0) : this.buffered.subarray(offset);
    return frames;
  }
}
