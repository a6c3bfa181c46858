import type { Readable } from 'node:stream';

/** Metadata of a committed blob. */
export interface BlobInfo {
  digest: string;
  size: number;
  createdAt: Date;
  labels: Record<string, string>;
}

/** What a writer is expected to produce; the digest is always verified at commit. */
export interface ExpectedBlob {
  digest: string;
  size?: number;
}

/** State of an in-progress (possibly interrupted) ingest. */
export interface IngestStatus {
  ref: string;
  /** Bytes already written; a new writer for the same ref resumes here. */
  offset: number;
  expected?: ExpectedBlob;
  startedAt: Date;
  updatedAt: Date;
}

export interface ContentWriter {
  readonly ref: string;
  /** Bytes written so far (including those of a resumed ingest). */
  readonly offset: number;
  /** Appends one chunk, or several at once (one writev); resolves once they are written. */
  write(data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Discards everything written so far and starts again at offset 0. */
  reset(): Promise<void>;
  /**
   * Verifies size and digest, makes the data durable and publishes it as a blob.
   * On mismatch the ingest is deleted and the error names expected and actual values.
   */
  commit(expected: ExpectedBlob): Promise<BlobInfo>;
  /** Drops the ingest and its data. */
  abort(): Promise<void>;
  /** Releases the writer without deleting the ingest, so it can be resumed later. */
  close(): Promise<void>;
}

/** A Readable, or a factory given the offset to resume from (e.g. to issue an HTTP Range request). */
export type IngestSource = Readable | ((offset: number) => Readable | Promise<Readable>);

/**
 * Watches an ingest's data file while it is written, so another reader can
 * follow it (the puller unpacks a layer while it downloads).
 */
export interface IngestObserver {
  /** The data file at `path` is open and already holds `offset` bytes; it only grows by appends until commit renames it. */
  opened?(path: string, offset: number): void;
  /** The data file now holds `total` bytes, readable by others. */
  written?(total: number): void;
}

export interface VerifyProblem {
  /** The blob's digest, or the stray file's path relative to the store root. */
  digest: string;
  problem: string;
}

/** Content-addressable blob store (sha256), after containerd's content.Store. */
export interface ContentStore {
  info(digest: string): Promise<BlobInfo | undefined>;
  openRead(digest: string, offset?: number): Readable;
  readAll(digest: string, maxBytes?: number): Promise<Buffer>;
  blobPath(digest: string): string;
  writer(ref: string, expected?: ExpectedBlob): Promise<ContentWriter>;
  ingest(ref: string, source: IngestSource, expected: ExpectedBlob, observer?: IngestObserver): Promise<BlobInfo>;
  delete(digest: string): Promise<void>;
  walk(): AsyncIterable<BlobInfo>;
  setLabels(digest: string, labels: Record<string, string>): Promise<BlobInfo>;
  listIngests(): Promise<IngestStatus[]>;
  abortIngest(ref: string): Promise<void>;
  /** Removes ingests whose blob is committed, and those not written to for `staleAfterMs`; returns their refs. */
  removeFinishedIngests(staleAfterMs?: number): Promise<string[]>;
  verify(): Promise<VerifyProblem[]>;
}
