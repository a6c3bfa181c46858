import type { Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError } from '../errors.js';
import { digestHex, newDigester } from './digest.js';
import { isErrno } from '../util/errno.js';
import { fsyncDir, writeFileAtomic } from './fs-util.js';
import type { BlobInfo, ContentWriter, ExpectedBlob } from './store.js';

/** Contents of `ingest/<key>/ref.json`. */
export interface IngestRecord {
  ref: string;
  expected?: ExpectedBlob;
  startedAt: string;
}

/** What a writer needs from its store. */
export interface WriterHost {
  blobFile(hex: string): string;
  blobsDir: string;
  info(digest: string): Promise<BlobInfo | undefined>;
  release(ref: string): void;
}

export const INGEST_DATA = 'data';
export const INGEST_RECORD = 'ref.json';
const REHASH_CHUNK = 1 << 20;

export async function readIngestRecord(dir: string): Promise<IngestRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, INGEST_RECORD), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<IngestRecord>;
    if (typeof parsed.ref !== 'string' || typeof parsed.startedAt !== 'string') return undefined;
    return parsed as IngestRecord;
  } catch {
    return undefined;
  }
}

function sameExpectation(a: ExpectedBlob | undefined, b: ExpectedBlob | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.digest === b.digest && a.size === b.size;
}

/**
 * Writes one ingest: data goes to `ingest/<key>/data`; commit verifies it and
 * renames it into `blobs/sha256/<hex>`, so a blob is only ever visible whole.
 */
export class LocalContentWriter implements ContentWriter {
  private done = false;

  private constructor(
    private readonly host: WriterHost,
    readonly ref: string,
    private readonly dir: string,
    private readonly handle: FileHandle,
    private hash: Hash,
    private written: number,
    private readonly expected: ExpectedBlob | undefined,
  ) {}

  /** Opens (or resumes) the ingest stored in `dir`. The caller holds the ref's lock. */
  static async open(host: WriterHost, ref: string, dir: string, expected?: ExpectedBlob): Promise<LocalContentWriter> {
    if (expected !== undefined) digestHex(expected.digest);
    await mkdir(dir, { recursive: true });
    const record = await readIngestRecord(dir);
    const dataPath = join(dir, INGEST_DATA);
    let startOver = record === undefined || record.ref !== ref;
    if (!startOver && expected !== undefined && !sameExpectation(record!.expected, expected)) startOver = true;
    if (startOver) {
      await rm(dataPath, { force: true });
      const fresh: IngestRecord = { ref, startedAt: new Date().toISOString() };
      if (expected !== undefined) fresh.expected = { ...expected };
      await writeFileAtomic(join(dir, INGEST_RECORD), JSON.stringify(fresh));
    }
    const handle = await open(dataPath, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      // A Hash cannot be persisted, so resuming re-reads what is already on disk.
      const hash = newDigester();
      const buffer = Buffer.allocUnsafe(REHASH_CHUNK);
      let offset = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        offset += bytesRead;
      }
      const writer = new LocalContentWriter(host, ref, dir, handle, hash, offset, expected ?? record?.expected);
      if (writer.expected?.size !== undefined && offset > writer.expected.size) await writer.reset();
      return writer;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get offset(): number {
    return this.written;
  }

  /** Writes one chunk, or several with one writev; resolves once the kernel has them. */
  async write(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.assertOpen();
    const chunks = data instanceof Uint8Array ? [data] : data;
    const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
    const limit = this.expected?.size;
    if (limit !== undefined && this.written + bytes > limit) {
      throw new FailedPreconditionError(
        `ingest ${this.ref}: received more than the expected ${limit} bytes for ${this.expected!.digest}`,
      );
    }
    let position = this.written;
    let rest: readonly Uint8Array[] = chunks;
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest as Uint8Array[], position);
      position += bytesWritten;
      rest = dropWritten(rest, bytesWritten);
    }
    for (const chunk of chunks) this.hash.update(chunk);
    this.written += bytes;
  }

  async reset(): Promise<void> {
    this.assertOpen();
    await this.handle.truncate(0);
    this.hash = newDigester();
    this.written = 0;
  }

  async commit(expected: ExpectedBlob): Promise<BlobInfo> {
    this.assertOpen();
    const hex = digestHex(expected.digest);
    if (expected.size !== undefined && expected.size !== this.written) {
      await this.discard();
      throw new FailedPreconditionError(
        `ingest ${this.ref}: size mismatch for ${expected.digest}: expected ${expected.size} bytes, got ${this.written}`,
      );
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== expected.digest) {
      await this.discard();
      throw new FailedPreconditionError(
        `ingest ${this.ref}: digest mismatch: expected ${expected.digest}, got ${actual} (${this.written} bytes); the data was discarded`,
      );
    }
    this.done = true;
    try {
      await this.handle.sync();
      await this.handle.chmod(0o444);
      await this.handle.close();
      const target = this.host.blobFile(hex);
      if (!(await exists(target))) {
        await rename(join(this.dir, INGEST_DATA), target);
        await fsyncDir(this.host.blobsDir);
      }
      await rm(this.dir, { recursive: true, force: true });
    } finally {
      this.host.release(this.ref);
    }
    const info = await this.host.info(expected.digest);
    if (info === undefined) throw new Error(`blob ${expected.digest} vanished right after commit (deleted concurrently?)`);
    return info;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    await this.discard();
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.handle.close();
    } finally {
      this.host.release(this.ref);
    }
  }

  private async discard(): Promise<void> {
    this.done = true;
    try {
      await this.handle.close().catch(() => undefined);
      await rm(this.dir, { recursive: true, force: true });
    } finally {
      this.host.release(this.ref);
    }
  }

  private assertOpen(): void {
    if (this.done) throw new FailedPreconditionError(`ingest ${this.ref}: writer already committed, aborted or closed`);
  }
}

/** The chunks left once the first `bytes` of them are written. */
function dropWritten(chunks: readonly Uint8Array[], bytes: number): readonly Uint8Array[] {
  let skip = bytes;
  let i = 0;
  while (i < chunks.length && skip >= chunks[i]!.byteLength) skip -= chunks[i++]!.byteLength;
  if (skip === 0) return chunks.slice(i);
  return [chunks[i]!.subarray(skip), ...chunks.slice(i + 1)];
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
