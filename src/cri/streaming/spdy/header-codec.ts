import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { SpdyProtocolError } from './frames.js';

/** Header names are lower case on the SPDY wire; a name may carry several values. */
export type SpdyHeaders = Record<string, string[]>;

/** Reads one header value whatever case the caller uses for the name. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers[name.toLowerCase()]?.[0];
}

/** Serialises headers as SPDY/3 name/value pairs (32-bit lengths); several values join with NUL. */
export function encodeHeaderPairs(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  const names = Object.keys(headers);
  count.writeUInt32BE(names.length, 0);
  parts.push(count);
  for (const name of names) {
    for (const text of [name.toLowerCase(), headers[name]!.join('\0')]) {
      const bytes = Buffer.from(text, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length, 0);
      parts.push(len, bytes);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderPairs(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  let offset = 0;
  const readString = (what: string): string => {
    if (block.length - offset < 4) throw new SpdyProtocolError(`truncated header block reading ${what} length`);
    const len = block.readUInt32BE(offset);
    offset += 4;
    if (block.length - offset < len) throw new SpdyProtocolError(`truncated header block reading ${what}`);
    const text = block.toString('utf8', offset, offset + len);
    offset += len;
    return text;
  };
  if (block.length < 4) throw new SpdyProtocolError('header block shorter than its pair count');
  const count = block.readUInt32BE(0);
  offset = 4;
  for (let i = 0; i < count; i++) {
    const name = readString('header name').toLowerCase();
    const values = readString(`value of ${name}`).split('\0');
    headers[name] = [...(headers[name] ?? []), ...values];
  }
  return headers;
}

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Adler-32 of the SPDY/3 dictionary: the DICTID a zlib stream names to use it. */
export const SPDY3_DICTIONARY_ID = adler32(SPDY3_DICTIONARY);

/**
 * The sending half of a connection's header compression context. SPDY requires
 * one zlib stream per direction for the whole connection; the receiver inflates
 * every block with the same context. We emit that stream with stored (literal)
 * deflate blocks: synchronous, so frames keep their order without an async
 * pipeline, and any conforming inflater (Go's, Node's) decodes it. Our own
 * header blocks are a few bytes (SYN_REPLY carries none), so size is no concern.
 * Each block ends with the sync-flush marker, as a real Z_SYNC_FLUSH would.
 */
export class HeaderCompressor {
  private started = false;

  compress(headers: SpdyHeaders): Buffer {
    const raw = encodeHeaderPairs(headers);
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      const cmf = 0x78; // deflate, 32 KiB window
      let flg = 0x20; // FDICT
      flg += 31 - ((cmf * 256 + flg) % 31);
      const head = Buffer.alloc(6);
      head.writeUInt8(cmf, 0);
      head.writeUInt8(flg, 1);
      head.writeUInt32BE(SPDY3_DICTIONARY_ID, 2);
      parts.push(head);
    }
    for (let offset = 0; offset < raw.length; offset += 0xffff) {
      const piece = raw.subarray(offset, Math.min(raw.length, offset + 0xffff));
      const blockHeader = Buffer.alloc(5);
      blockHeader.writeUInt8(0x00, 0); // BFINAL=0, BTYPE=00 (stored), padding to the byte boundary
      blockHeader.writeUInt16LE(piece.length, 1);
      blockHeader.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(blockHeader, piece);
    }
    // The empty stored block is what Z_SYNC_FLUSH emits; Go's inflater only hands out
    // data at such a boundary, so without it the peer waits for bytes that never come.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/**
 * The receiving half: one inflate stream primed with the SPDY/3 dictionary,
 * fed block by block with a sync flush. Calls are serialised so blocks are
 * inflated in arrival order.
 */
export class HeaderDecompressor {
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly maxHeaderBytes = 256 * 1024) {
    this.inflate.on('error', (err: Error) => {
      this.failure = new SpdyProtocolError(`cannot inflate header block: ${err.message}`);
    });
  }

  decompress(block: Buffer): Promise<SpdyHeaders> {
    const next = this.queue.then(() => this.inflateOne(block));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.inflate.close();
  }

  private inflateOne(block: Buffer): Promise<SpdyHeaders> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const onError = (): void => reject(this.failure ?? new SpdyProtocolError('cannot inflate header block'));
      this.inflate.once('error', onError);
      this.inflate.write(block);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.inflate.off('error', onError);
        if (this.failure) {
          reject(this.failure);
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        for (let chunk = this.inflate.read() as Buffer | null; chunk !== null; chunk = this.inflate.read() as Buffer | null) {
          chunks.push(chunk);
          total += chunk.length;
        }
        if (total > this.maxHeaderBytes) {
          reject(new SpdyProtocolError(`header block inflates to ${total} bytes, over the ${this.maxHeaderBytes} limit`));
          return;
        }
        try {
          resolve(decodeHeaderPairs(Buffer.concat(chunks)));
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}
