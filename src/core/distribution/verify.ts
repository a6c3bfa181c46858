/** Streaming digest and size verification for blobs fetched from a registry. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, SizeLimitError } from './errors.js';

export interface ExpectedContent {
  digest: string;
  size: number;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Feed bytes with `update`, then `verify` checks the total size and the sha256 digest. */
export class DigestVerifier {
  private readonly hash: Hash;
  private count: number;

  /** To resume, pass the hash already fed with the first `offset` bytes. */
  constructor(
    readonly expected: ExpectedContent,
    resume?: { offset: number; hash: Hash },
  ) {
    if (!expected.digest.startsWith('sha256:')) {
      throw new DigestMismatchError(`unsupported digest algorithm in ${expected.digest} (only sha256)`, expected.digest, '');
    }
    this.hash = resume?.hash ?? createHash('sha256');
    this.count = resume?.offset ?? 0;
  }

  get bytes(): number {
    return this.count;
  }

  /** Throws as soon as more bytes than the expected size arrive. */
  update(chunk: Buffer): void {
    this.count += chunk.length;
    if (this.count > this.expected.size) {
      throw new SizeLimitError(
        `content ${this.expected.digest} is larger than its declared size ${this.expected.size} (got at least ${this.count} bytes)`,
      );
    }
    this.hash.update(chunk);
  }

  verify(): void {
    if (this.count !== this.expected.size) {
      throw new SizeLimitError(
        `content ${this.expected.digest} is truncated: got ${this.count} of ${this.expected.size} bytes`,
      );
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.expected.digest) {
      throw new DigestMismatchError(
        `content digest mismatch: expected ${this.expected.digest}, got ${actual}`,
        this.expected.digest,
        actual,
      );
    }
  }
}

/** A pass-through stream that errors when the bytes exceed the size or the digest does not match at the end. */
export function verifyingStream(expected: ExpectedContent, resume?: { offset: number; hash: Hash }): Transform {
  const verifier = new DigestVerifier(expected, resume);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      try {
        verifier.update(chunk);
        done(null, chunk);
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback): void {
      try {
        verifier.verify();
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}
