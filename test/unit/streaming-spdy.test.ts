import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import { SPDY3_DICTIONARY } from '../../src/cri/streaming/spdy/dictionary.js';
import { FLAG_FIN, FrameParser, SETTINGS_INITIAL_WINDOW_SIZE, encodeFrame, type SpdyFrame } from '../../src/cri/streaming/spdy/frames.js';
import {
  HeaderCompressor,
  HeaderDecompressor,
  SPDY3_DICTIONARY_ID,
  decodeHeaderPairs,
  encodeHeaderPairs,
} from '../../src/cri/streaming/spdy/header-codec.js';
import { SpdySession, type SpdyStream } from '../../src/cri/streaming/spdy/session.js';

/** Two in-memory byte streams wired to each other, like a socket pair. */
function socketPair(): { a: Duplex; b: Duplex; close: () => Promise<void> } {
  let a: Duplex;
  let b: Duplex;
  const side = (peer: () => Duplex): Duplex =>
    new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, cb) => {
        peer().push(chunk);
        cb();
      },
      final: (cb) => {
        peer().push(null);
        cb();
      },
    });
  a = side(() => b);
  b = side(() => a);
  return {
    a,
    b,
    close: async () => {
      a.destroy();
      b.destroy();
    },
  };
}

describe('SPDY frames', () => {
  it('round-trips every frame type, also when bytes arrive one at a time', () => {
    const frames: SpdyFrame[] = [
      { kind: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 3, flags: FLAG_FIN, headerBlock: Buffer.from('hdr') },
      { kind: 'syn_reply', streamId: 1, flags: 0, headerBlock: Buffer.from('r') },
      { kind: 'headers', streamId: 5, flags: FLAG_FIN, headerBlock: Buffer.alloc(0) },
      { kind: 'data', streamId: 7, flags: FLAG_FIN, data: Buffer.from('payload') },
      { kind: 'rst_stream', streamId: 9, status: 5 },
      { kind: 'settings', flags: 0, entries: [{ flags: 1, id: SETTINGS_INITIAL_WINDOW_SIZE, value: 1234 }] },
      { kind: 'ping', id: 0xfffffffe },
      { kind: 'goaway', lastGoodStreamId: 11, status: 0 },
      { kind: 'window_update', streamId: 0, delta: 65536 },
    ];
    const wire = Buffer.concat(frames.map(encodeFrame));
    const parser = new FrameParser();
    const parsed: SpdyFrame[] = [];
    for (const byte of wire) parsed.push(...parser.push(Buffer.from([byte])));
    assert.deepEqual(parsed, frames);
  });

  it('encodes control frames with version 3 and a 24-bit length', () => {
    const bytes = encodeFrame({ kind: 'ping', id: 7 });
    assert.deepEqual([...bytes], [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 7]);
  });

  it('rejects frames of another SPDY version', () => {
    const bytes = encodeFrame({ kind: 'ping', id: 1 });
    bytes.writeUInt16BE(0x8002, 0);
    assert.throws(() => new FrameParser().push(bytes), /unsupported SPDY version 2/);
  });
});

describe('SPDY header blocks', () => {
  it('uses the SPDY/3 dictionary (Adler-32 0xe3c6a7c2)', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(SPDY3_DICTIONARY_ID, 0xe3c6a7c2);
  });

  it('name/value pairs round-trip, several values joined by NUL', () => {
    const headers = { streamtype: ['data'], port: ['8080'], multi: ['a', 'b'] };
    assert.deepEqual(decodeHeaderPairs(encodeHeaderPairs(headers)), headers);
  });

  it('compressor output is one zlib stream with the dictionary that inflates block by block', () => {
    const compressor = new HeaderCompressor();
    const blocks = [compressor.compress({ a: ['1'] }), compressor.compress({}), compressor.compress({ 'x-long': ['y'.repeat(70_000)] })];
    assert.equal(blocks[0]!.readUInt32BE(2), 0xe3c6a7c2, 'the stream names the dictionary id');
    const inflated = zlib.inflateSync(Buffer.concat(blocks), { dictionary: SPDY3_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const expected = Buffer.concat([encodeHeaderPairs({ a: ['1'] }), encodeHeaderPairs({}), encodeHeaderPairs({ 'x-long': ['y'.repeat(70_000)] })]);
    assert.ok(inflated.equals(expected));
  });

  it('decompressor keeps one context across blocks of a real deflate stream', async () => {
    const deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY });
    const blockOf = async (headers: Record<string, string[]>): Promise<Buffer> => {
      deflate.write(encodeHeaderPairs(headers));
      await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      const chunks: Buffer[] = [];
      for (let c = deflate.read() as Buffer | null; c !== null; c = deflate.read() as Buffer | null) chunks.push(c);
      return Buffer.concat(chunks);
    };
    const first = await blockOf({ streamtype: ['error'] });
    const second = await blockOf({ streamtype: ['stdout'] }); // compressed against the first block's history
    deflate.close();
    const decompressor = new HeaderDecompressor();
    try {
      assert.deepEqual(await decompressor.decompress(first), { streamtype: ['error'] });
      assert.deepEqual(await decompressor.decompress(second), { streamtype: ['stdout'] });
      await assert.rejects(decompressor.decompress(Buffer.from('not zlib at all')), /cannot inflate|truncated|header block/);
    } finally {
      decompressor.close();
    }
  });
});

describe('SPDY session', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('carries streams both ways with half-close, replies and pings', async () => {
    const pair = socketPair();
    cleanups.push(pair.close);
    const server = new SpdySession(pair.b, { isServer: true });
    const client = new SpdySession(pair.a, { isServer: false });
    server.on('stream', (stream: SpdyStream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => stream.end(`${stream.headers.name?.[0]}:${Buffer.concat(chunks).toString().toUpperCase()}`));
    });
    await client.ping();
    const stream = await client.openStream({ name: ['upper'] });
    assert.equal(stream.id, 1);
    stream.end('big '.repeat(50_000));
    const reply: Buffer[] = [];
    for await (const c of stream) reply.push(c as Buffer);
    assert.equal(Buffer.concat(reply).toString(), `upper:${'BIG '.repeat(50_000)}`);
    assert.equal(client.openStreams, 0);
    client.close();
    await once(server, 'close');
  });

  it('honours a peer that does flow control: no more than the window until WINDOW_UPDATE', async () => {
    const pair = socketPair();
    cleanups.push(pair.close);
    const server = new SpdySession(pair.b, { isServer: true });
    server.on('stream', (stream: SpdyStream) => stream.end(Buffer.alloc(5000, 0x61)));
    // A hand-driven client: announce a 1000-byte initial window, open a stream.
    const compressor = new HeaderCompressor();
    const parser = new FrameParser();
    const frames: SpdyFrame[] = [];
    let notify: (() => void) | undefined;
    pair.a.on('data', (chunk: Buffer) => {
      frames.push(...parser.push(chunk));
      notify?.();
    });
    const waitFor = async (pred: () => boolean): Promise<void> => {
      while (!pred()) await new Promise<void>((resolve) => (notify = resolve));
    };
    const dataBytes = (): number => frames.reduce((n, f) => n + (f.kind === 'data' ? f.data.length : 0), 0);
    pair.a.write(encodeFrame({ kind: 'settings', flags: 0, entries: [{ flags: 0, id: SETTINGS_INITIAL_WINDOW_SIZE, value: 1000 }] }));
    pair.a.write(encodeFrame({ kind: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 0, flags: FLAG_FIN, headerBlock: compressor.compress({}) }));
    await waitFor(() => dataBytes() >= 1000);
    // The server answers pings in order: if it were ignoring the window, the rest would already be here.
    pair.a.write(encodeFrame({ kind: 'ping', id: 1 }));
    await waitFor(() => frames.some((f) => f.kind === 'ping'));
    assert.equal(dataBytes(), 1000);
    assert.ok(frames.some((f) => f.kind === 'syn_reply' && f.streamId === 1));
    pair.a.write(encodeFrame({ kind: 'window_update', streamId: 1, delta: 4000 }));
    await waitFor(() => frames.some((f) => f.kind === 'data' && (f.flags & FLAG_FIN) !== 0));
    assert.equal(dataBytes(), 5000);
    server.destroy();
  });

  it('sends WINDOW_UPDATE for data it consumed and refuses streams with the wrong parity', async () => {
    const pair = socketPair();
    cleanups.push(pair.close);
    const server = new SpdySession(pair.b, { isServer: true });
    const received: Buffer[] = [];
    server.on('stream', (stream: SpdyStream) => stream.on('data', (c: Buffer) => received.push(c)));
    const compressor = new HeaderCompressor();
    const parser = new FrameParser();
    const frames: SpdyFrame[] = [];
    let notify: (() => void) | undefined;
    pair.a.on('data', (chunk: Buffer) => {
      frames.push(...parser.push(chunk));
      notify?.();
    });
    const waitFor = async (pred: () => boolean): Promise<void> => {
      while (!pred()) await new Promise<void>((resolve) => (notify = resolve));
    };
    pair.a.write(encodeFrame({ kind: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 0, flags: 0, headerBlock: compressor.compress({}) }));
    pair.a.write(encodeFrame({ kind: 'data', streamId: 1, flags: 0, data: Buffer.alloc(3000, 1) }));
    pair.a.write(encodeFrame({ kind: 'syn_stream', streamId: 2, associatedStreamId: 0, priority: 0, flags: 0, headerBlock: compressor.compress({}) }));
    await waitFor(() => frames.some((f) => f.kind === 'rst_stream') && frames.filter((f) => f.kind === 'window_update').length >= 2);
    const updates = frames.filter((f): f is Extract<SpdyFrame, { kind: 'window_update' }> => f.kind === 'window_update');
    assert.deepEqual(updates.map((u) => [u.streamId, u.delta]).sort(), [[0, 3000], [1, 3000]]);
    assert.deepEqual(frames.find((f) => f.kind === 'rst_stream'), { kind: 'rst_stream', streamId: 2, status: 1 });
    assert.equal(Buffer.concat(received).length, 3000);
    server.destroy();
  });
});
