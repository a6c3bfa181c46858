import { createHash } from 'node:crypto';
import { createReadStream, statSync, type Stats } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError, isStorageFull, NotFoundError, ResourceExhaustedError, storageFullError, UnavailableError } from '../errors.js';
import { digestHex, newDigester } from './digest.js';
import { isErrno } from '../util/errno.js';
import { fsyncDir, TEMP_MARKER, writeFileAtomic } from './fs-util.js';
import type {
  BlobInfo,
  ContentStore,
  ContentWriter,
  ExpectedBlob,
  IngestObserver,
  IngestSource,
  IngestStatus,
  VerifyProblem,
} from './store.js';
import { INGEST_DATA, LocalContentWriter, readIngestRecord, type WriterHost } from './writer.js';

const MAX_REF_LENGTH = 4096;
/** Same bound as containerd: key plus value of one label. */
const MAX_LABEL_LENGTH = 4096;
const HEX_NAME = /^[0-9a-f]{64}$/;
const LABELS_SUFFIX = '.json';
const READ_CHUNK_BYTES = 1 << 20;
/**
 * A registry socket delivers 16-64 KiB chunks; one awaited write each costs
 * more than the copy itself. They are gathered into batches written with one
 * writev, the next batch filling while the previous one is written.
 */
const WRITE_BATCH_BYTES = 1 << 20;

/**
 * Content store on the local filesystem:
 *   blobs/sha256/<hex>            committed, verified blobs (read-only files)
 *   labels/sha256/<hex>.json      labels sidecar, replaced atomically
 *   ingest/<sha256(ref)>/data     partial data of an ingest
 *   ingest/<sha256(ref)>/ref.json ref, expected digest/size, start time
 */
export class LocalContentStore implements ContentStore {
  private readonly blobsDir: string;
  private readonly labelsDir: string;
  private readonly ingestDir: string;
  private readonly activeRefs = new Set<string>();
  private ready: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.labelsDir = join(root, 'labels', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    const hex = digestHex(digest);
    let st: Stats;
    try {
      st = await stat(join(this.blobsDir, hex));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    return { digest, size: st.size, createdAt: st.mtime, labels: await this.readLabels(hex) };
  }

  openRead(digest: string, offset = 0): Readable {
    const path = this.blobPath(digest);
    let size: number;
    try {
      size = statSync(path).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new NotFoundError(`content ${digest} not found`);
      throw err;
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw new InvalidArgumentError(`offset ${offset} is outside blob ${digest} of ${size} bytes`);
    }
    // Blobs are read front to back (unpack, push, verify): big reads, fewer round trips.
    return createReadStream(path, { start: offset, highWaterMark: READ_CHUNK_BYTES });
  }

  async readAll(digest: string, maxBytes?: number): Promise<Buffer> {
    const path = this.blobPath(digest);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new NotFoundError(`content ${digest} not found`);
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (maxBytes !== undefined && size > maxBytes) {
        throw new ResourceExhaustedError(`content ${digest} is ${size} bytes, more than the allowed ${maxBytes}`);
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async writer(ref: string, expected?: ExpectedBlob): Promise<ContentWriter> {
    validateRef(ref);
    if (this.activeRefs.has(ref)) {
      throw new UnavailableError(`ref ${ref} is locked: another writer is ingesting it; retry later`);
    }
    this.activeRefs.add(ref);
    try {
      await this.ensureDirs();
      return await LocalContentWriter.open(this.writerHost(), ref, this.ingestPath(ref), expected);
    } catch (err) {
      this.activeRefs.delete(ref);
      throw err;
    }
  }

  async ingest(ref: string, source: IngestSource, expected: ExpectedBlob, observer: IngestObserver = {}): Promise<BlobInfo> {
    digestHex(expected.digest);
    const existing = await this.info(expected.digest);
    if (existing !== undefined) {
      if (typeof source !== 'function') source.destroy();
      return existing;
    }
    let writer: ContentWriter;
    try {
      writer = await this.writer(ref, expected);
    } catch (err) {
      throw isStorageFull(err) ? storageFullError(err, `blob ${expected.digest}`) : err;
    }
    let readable: Readable | undefined;
    let writeFailed = false;
    try {
      if (typeof source === 'function') {
        readable = await source(writer.offset);
      } else {
        // A plain stream always starts at byte 0, so any partial data is dropped.
        if (writer.offset > 0) await writer.reset();
        readable = source;
      }
      observer.opened?.(join(this.ingestPath(ref), INGEST_DATA), writer.offset);
      await copyInBatches(
        readable,
        writer,
        (err) => {
          writeFailed = true;
          return isStorageFull(err) ? storageFullError(err, `blob ${expected.digest}`) : err;
        },
        observer.written,
      );
      return await writer.commit(expected);
    } catch (err) {
      readable?.destroy();
      if (writeFailed) {
        // Too many bytes, or a full disk: the partial data is wrong or in the way, never worth resuming.
        await writer.abort();
      } else {
        // Keeps the partial data (if the commit did not already discard it) so a later attempt resumes.
        await writer.close();
      }
      throw isStorageFull(err) ? storageFullError(err, `blob ${expected.digest}`) : err;
    }
  }

  async delete(digest: string): Promise<void> {
    const hex = digestHex(digest);
    try {
      await unlink(join(this.blobsDir, hex));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new NotFoundError(`content ${digest} not found`);
      throw err;
    }
    await rm(this.labelsFile(hex), { force: true });
    await fsyncDir(this.blobsDir);
  }

  async *walk(): AsyncIterable<BlobInfo> {
    for (const name of await listDir(this.blobsDir)) {
      if (!HEX_NAME.test(name)) continue;
      const info = await this.info(`sha256:${name}`);
      if (info !== undefined) yield info;
    }
  }

  async setLabels(digest: string, labels: Record<string, string>): Promise<BlobInfo> {
    const hex = digestHex(digest);
    validateLabels(labels);
    if ((await this.info(digest)) === undefined) throw new NotFoundError(`content ${digest} not found`);
    await this.ensureDirs();
    const file = this.labelsFile(hex);
    if (Object.keys(labels).length === 0) {
      await rm(file, { force: true });
      await fsyncDir(this.labelsDir);
    } else {
      await writeFileAtomic(file, JSON.stringify(labels));
    }
    const info = await this.info(digest);
    if (info === undefined) throw new NotFoundError(`content ${digest} was deleted while its labels were updated`);
    return info;
  }

  async listIngests(): Promise<IngestStatus[]> {
    const result: IngestStatus[] = [];
    for (const name of await listDir(this.ingestDir)) {
      const dir = join(this.ingestDir, name);
      const record = await readIngestRecord(dir);
      if (record === undefined) continue;
      let offset = 0;
      let updatedAt = new Date(record.startedAt);
      try {
        const st = await stat(join(dir, INGEST_DATA));
        offset = st.size;
        updatedAt = st.mtime;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      const status: IngestStatus = { ref: record.ref, offset, startedAt: new Date(record.startedAt), updatedAt };
      if (record.expected !== undefined) status.expected = record.expected;
      result.push(status);
    }
    return result;
  }

  async abortIngest(ref: string): Promise<void> {
    validateRef(ref);
    if (this.activeRefs.has(ref)) {
      throw new UnavailableError(`ref ${ref} is being written; abort it through its writer`);
    }
    const dir = this.ingestPath(ref);
    const record = await readIngestRecord(dir);
    if (record === undefined) {
      try {
        await stat(dir);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) throw new NotFoundError(`no ingest in progress for ref ${ref}`);
        throw err;
      }
    }
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * Removes ingests no writer will finish: directories without a record (a
   * crash while one was being created, or while a finished one was being
   * removed), those whose blob is already committed (a crash between the
   * commit's rename and the removal of its directory; no later ingest of that
   * digest would ever clean it), and partial downloads nothing has written to
   * for `staleAfterMs` (kept until then so a retried pull resumes). Returns
   * the refs (a directory without a record by its name).
   */
  async removeFinishedIngests(staleAfterMs = Number.POSITIVE_INFINITY): Promise<string[]> {
    const removed: string[] = [];
    const now = Date.now();
    const activeDirs = new Set([...this.activeRefs].map((ref) => this.ingestPath(ref)));
    for (const name of await listDir(this.ingestDir)) {
      const dir = join(this.ingestDir, name);
      if (activeDirs.has(dir)) continue;
      const record = await readIngestRecord(dir);
      if (record) {
        const completed = record.expected !== undefined && (await this.info(record.expected.digest)) !== undefined;
        const updatedAt = (await stat(join(dir, INGEST_DATA)).catch(() => undefined))?.mtime ?? new Date(record.startedAt);
        if (!completed && now - updatedAt.getTime() < staleAfterMs) continue;
      }
      await rm(dir, { recursive: true, force: true });
      removed.push(record?.ref ?? name);
    }
    return removed;
  }

  async verify(): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = [];
    for (const name of await listDir(this.blobsDir)) {
      if (!HEX_NAME.test(name)) {
        problems.push({ digest: join('blobs', 'sha256', name), problem: strayKind(name) });
        continue;
      }
      const digest = `sha256:${name}`;
      let actual: string;
      try {
        actual = await hashFile(join(this.blobsDir, name));
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        problems.push({ digest, problem: `cannot be read: ${(err as Error).message}` });
        continue;
      }
      if (actual !== digest) problems.push({ digest, problem: `content hashes to ${actual}` });
    }
    for (const name of await listDir(this.labelsDir)) {
      const hex = name.endsWith(LABELS_SUFFIX) ? name.slice(0, -LABELS_SUFFIX.length) : '';
      if (!HEX_NAME.test(hex)) {
        problems.push({ digest: join('labels', 'sha256', name), problem: strayKind(name) });
      } else if ((await this.info(`sha256:${hex}`)) === undefined) {
        problems.push({ digest: `sha256:${hex}`, problem: 'labels file without a blob' });
      }
    }
    return problems;
  }

  private writerHost(): WriterHost {
    return {
      blobFile: (hex) => join(this.blobsDir, hex),
      blobsDir: this.blobsDir,
      info: (digest) => this.info(digest),
      release: (ref) => this.activeRefs.delete(ref),
    };
  }

  private ingestPath(ref: string): string {
    return join(this.ingestDir, createHash('sha256').update(ref).digest('hex'));
  }

  private labelsFile(hex: string): string {
    return join(this.labelsDir, hex + LABELS_SUFFIX);
  }

  private async readLabels(hex: string): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(this.labelsFile(hex), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return {};
      throw err;
    }
    const parsed: unknown = JSON.parse(text);
    const labels: Record<string, string> = {};
    if (parsed !== null && typeof parsed === 'object') {
      for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
        if (typeof value === 'string') labels[key] = value;
      }
    }
    return labels;
  }

  private ensureDirs(): Promise<void> {
    this.ready ??= (async () => {
      for (const dir of [this.blobsDir, this.labelsDir, this.ingestDir]) await mkdir(dir, { recursive: true });
    })();
    return this.ready;
  }
}

/** Copies `source` into `writer` in large batched writes; a failed write is rethrown as `onWriteError` returns it. */
async function copyInBatches(
  source: Readable,
  writer: ContentWriter,
  onWriteError: (err: unknown) => unknown,
  onWritten?: (total: number) => void,
): Promise<void> {
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let writing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (writing) await writing;
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    writing = writer.write(chunks).then(
      () => onWritten?.(writer.offset),
      (err: unknown) => {
        throw onWriteError(err);
      },
    );
    writing.catch(() => undefined); // awaited before the next batch or at the end
  };
  try {
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      batch.push(bytes);
      batchBytes += bytes.byteLength;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    if (batchBytes > 0) await flush();
  } finally {
    // Never leave a write running behind the caller's back (it closes the writer next).
    await writing?.catch(() => undefined);
  }
  await writing;
}

function validateRef(ref: string): void {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_REF_LENGTH) {
    throw new InvalidArgumentError(`invalid ingest ref: must be a non-empty string of at most ${MAX_REF_LENGTH} characters`);
  }
}

function validateLabels(labels: Record<string, string>): void {
  if (labels === null || typeof labels !== 'object') throw new InvalidArgumentError('labels must be an object of strings');
  for (const [key, value] of Object.entries(labels)) {
    if (key.length === 0) throw new InvalidArgumentError('label keys must not be empty');
    if (typeof value !== 'string') throw new InvalidArgumentError(`label ${key} must have a string value`);
    if (key.length + value.length > MAX_LABEL_LENGTH) {
      throw new InvalidArgumentError(`label ${key.slice(0, 64)} is longer than ${MAX_LABEL_LENGTH} characters (key plus value)`);
    }
  }
}

function strayKind(name: string): string {
  return name.includes(TEMP_MARKER) ? 'stray temporary file (interrupted write)' : 'unexpected file';
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = newDigester();
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

