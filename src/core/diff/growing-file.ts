import { read } from 'node:fs';
import { Readable } from 'node:stream';

const READ_CHUNK_BYTES = 1 << 20;

/**
 * Reads the first `size` bytes of a file another writer is still appending to
 * (a layer's ingest file while it downloads). It reads what the writer has
 * reported as written, waits for `grow()` when it catches up, and ends at
 * `size`. The fd belongs to the caller, who closes it once the stream is done;
 * a file number (not a FileHandle) so a worker thread can read it too.
 */
export class GrowingFileReader extends Readable {
  private offset = 0;
  private reading = false;
  private waitingForData = false;
  private markVerified!: () => void;
  private markFailed!: (err: Error) => void;
  /** Resolves once the writer has finished and its data is verified; rejects if it fails. */
  readonly verified = new Promise<void>((resolve, reject) => {
    this.markVerified = resolve;
    this.markFailed = reject;
  });

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private available: number,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.verified.catch(() => undefined); // awaited only past the expansion limit
  }

  /** The writer has now written `available` bytes. */
  grow(available: number): void {
    this.available = Math.max(this.available, Math.min(available, this.size));
    if (this.waitingForData && this.offset < this.available) {
      this.waitingForData = false;
      this.readNext();
    }
  }

  /** The writer has written everything and its data is verified. */
  complete(): void {
    this.grow(this.size);
    this.markVerified();
  }

  /** The writer failed: the stream ends with `err`. */
  fail(err: Error): void {
    this.markFailed(err);
    if (!this.destroyed) this.destroy(err);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // An extraction held back until verification must not wait on a reader torn down early.
    // (Having read to the end, it still waits: the writer's verification comes after.)
    if (err || !this.readableEnded) this.markFailed(err ?? new Error('the layer reader was closed'));
    callback(err);
  }

  override _read(): void {
    this.readNext();
  }

  private readNext(): void {
    if (this.reading || this.destroyed) return;
    if (this.offset >= this.size) {
      this.push(null);
      return;
    }
    if (this.offset >= this.available) {
      this.waitingForData = true;
      return;
    }
    const length = Math.min(READ_CHUNK_BYTES, this.available - this.offset);
    const buffer = Buffer.allocUnsafe(length);
    this.reading = true;
    read(this.fd, buffer, 0, length, this.offset, (err, bytesRead) => {
      this.reading = false;
      if (this.destroyed) return;
      if (err) {
        this.destroy(err);
        return;
      }
      if (bytesRead === 0) {
        this.destroy(new Error(`the layer file ended at byte ${this.offset} of ${this.size}, before its writer said it would`));
        return;
      }
      this.offset += bytesRead;
      // push() returning true means Readable wants more: it calls _read again itself.
      this.push(buffer.subarray(0, bytesRead));
    });
  }
}
