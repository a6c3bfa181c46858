/**
 * Applies layer files on worker threads. Unpacking a big layer is CPU work
 * (inflate callbacks, sha256 of every byte, tar parsing) that makes hundreds
 * of MB of short-lived buffers; on the daemon's main thread that work and the
 * garbage collections it causes would stall downloads and every other CRI call
 * while a pull runs.
 */
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { BerthError, type BerthErrorCode } from '../errors.js';
import type { Readable } from 'node:stream';
import { applyLayer, type ApplyOptions, type ApplyResult, type WhiteoutMode } from './apply.js';
import { GrowingFileReader } from './growing-file.js';
import { mallocTrim, nativeAvailable } from '../sys/native.js';

export interface FileApplyOptions {
  /** Target directory; must exist. */
  root: string;
  whiteoutMode: WhiteoutMode;
  expectedDiffId?: string;
  /** Called on the first hardlink to a file of a lower layer only (see ApplyOptions.lowerDirs). */
  lowerDirs?: () => Promise<readonly string[]>;
  /** Stops the apply (it fails with the signal's reason) when nobody wants the layer any more. */
  signal?: AbortSignal;
}

/** A layer file its writer is still appending to, and how to follow the writer (see GrowingFileReader). */
export interface GrowingLayerFile {
  /** Open for reading; the caller closes it once the apply has settled. */
  fd: number;
  /** Bytes written so far (read when the apply starts; later writes come through follow). */
  readonly available: number;
  /** Tells `listener` of every later write and of the writer's failure; returns the unsubscribe function. */
  follow(listener: GrowingFileListener): () => void;
}

export interface GrowingFileListener {
  grown(available: number): void;
  /** The writer has written all of it and verified it. */
  finished(): void;
  failed(err: Error): void;
}

/**
 * Uncompressed bytes a layer may expand to while its download is not yet
 * verified; past that, extraction waits for the verification. Real layers
 * rarely compress 8:1; a lying registry's decompression bomb stops here.
 */
export function unverifiedExpansionLimit(compressedSize: number): number {
  return 64 * 1024 * 1024 + 8 * compressedSize;
}

/** Where a worker reads a layer from. */
export type WorkerLayerSource = { kind: 'file'; path: string } | { kind: 'growing'; fd: number; available: number; unverifiedLimit: number };

export interface LayerApplyWorkersOptions {
  /** Most workers alive at once; further applies run on the calling thread (default 4). */
  maxWorkers?: number;
  /** Layer files smaller than this are applied on the calling thread: a worker round trip costs more (default 1 MiB). */
  minWorkerBytes?: number;
  /** A worker idle this long exits (default 1 s: a worker costs ~10 MiB of RSS, starting one ~30 ms). */
  idleTimeoutMs?: number;
}

/** Messages to a worker. */
export type WorkerRequest =
  | { type: 'apply'; job: number; source: WorkerLayerSource; size: number; root: string; whiteoutMode: WhiteoutMode; expectedDiffId?: string }
  | { type: 'grown'; job: number; available: number }
  | { type: 'sourceVerified'; job: number }
  | { type: 'cancel'; job: number; message: string }
  | { type: 'sourceFailed'; job: number; message: string }
  | { type: 'lowers'; job: number; dirs: readonly string[] }
  | { type: 'lowersFailed'; job: number; message: string };

/** Messages from a worker. */
export type WorkerReply =
  | { type: 'needLowers'; job: number }
  | { type: 'done'; job: number; result: ApplyResult }
  | { type: 'failed'; job: number; error: { name: string; message: string; code?: BerthErrorCode } };

/** An error raised in a worker: same class name, message and gRPC-mapped code as the original. */
export class WorkerApplyError extends BerthError {
  constructor(name: string, code: BerthErrorCode, message: string) {
    super(code, message);
    this.name = name;
  }
}

const READ_CHUNK_BYTES = 1 << 20;

interface PooledWorker {
  worker: Worker;
  job?: RunningJob;
  idleTimer?: NodeJS.Timeout;
}

interface RunningJob {
  id: number;
  options: FileApplyOptions;
  resolve(result: ApplyResult): void;
  reject(err: Error): void;
  stopListening?(): void;
}

function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : 'layer apply cancelled';
}

/** applyLayer on this thread, its input destroyed (so the apply fails) if `options.signal` aborts. */
async function applyInProcess(input: Readable, options: FileApplyOptions & Pick<ApplyOptions, 'unverified'>): Promise<ApplyResult> {
  const { signal } = options;
  if (!signal) return applyLayer(input, options);
  const cancel = (): void => {
    input.destroy(signal.reason instanceof Error ? signal.reason : new Error(abortMessage(signal)));
  };
  if (signal.aborted) cancel();
  else signal.addEventListener('abort', cancel, { once: true });
  try {
    return await applyLayer(input, options);
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

export class LayerApplyWorkers {
  private readonly maxWorkers: number;
  private readonly minWorkerBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly workers = new Set<PooledWorker>();
  private nextJob = 1;
  private closed = false;

  constructor(options: LayerApplyWorkersOptions = {}) {
    this.maxWorkers = options.maxWorkers ?? 4;
    this.minWorkerBytes = options.minWorkerBytes ?? 1 << 20;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 1_000;
  }

  /** Applies the layer stored in the file at `path` (tar, tar+gzip or tar+zstd). */
  apply(path: string, size: number, options: FileApplyOptions): Promise<ApplyResult> {
    const pooled = this.workerFor(size);
    if (!pooled) return applyInProcess(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), options);
    return this.run(pooled, { kind: 'file', path }, size, options);
  }

  /** Applies the first `size` bytes of a layer file while its writer is still writing it. */
  async applyGrowing(file: GrowingLayerFile, size: number, options: FileApplyOptions): Promise<ApplyResult> {
    const pooled = this.workerFor(size);
    if (!pooled) {
      const reader = new GrowingFileReader(file.fd, size, file.available);
      const unfollow = file.follow({ grown: (n) => reader.grow(n), finished: () => reader.complete(), failed: (err) => reader.fail(err) });
      try {
        return await applyInProcess(reader, { ...options, unverified: { bytes: unverifiedExpansionLimit(size), verified: () => reader.verified } });
      } finally {
        unfollow();
      }
    }
    const jobId = this.nextJob;
    const unfollow = file.follow({
      grown: (available) => pooled.worker.postMessage({ type: 'grown', job: jobId, available } satisfies WorkerRequest),
      finished: () => pooled.worker.postMessage({ type: 'sourceVerified', job: jobId } satisfies WorkerRequest),
      failed: (err) => pooled.worker.postMessage({ type: 'sourceFailed', job: jobId, message: err.message } satisfies WorkerRequest),
    });
    try {
      return await this.run(pooled, { kind: 'growing', fd: file.fd, available: file.available, unverifiedLimit: unverifiedExpansionLimit(size) }, size, options);
    } finally {
      unfollow();
    }
  }

  private workerFor(size: number): PooledWorker | undefined {
    return !this.closed && size >= this.minWorkerBytes ? this.idleWorker() : undefined;
  }

  private run(pooled: PooledWorker, source: WorkerLayerSource, size: number, options: FileApplyOptions): Promise<ApplyResult> {
    const applying = new Promise<ApplyResult>((resolve, reject) => {
      const job: RunningJob = { id: this.nextJob++, options, resolve, reject };
      pooled.job = job;
      const signal = options.signal;
      if (signal) {
        const cancel = (): void => pooled.worker.postMessage({ type: 'cancel', job: job.id, message: abortMessage(signal) } satisfies WorkerRequest);
        if (signal.aborted) queueMicrotask(cancel);
        else signal.addEventListener('abort', cancel, { once: true });
        job.stopListening = () => signal.removeEventListener('abort', cancel);
      }
      const request: WorkerRequest = {
        type: 'apply',
        job: job.id,
        source,
        size,
        root: options.root,
        whiteoutMode: options.whiteoutMode,
        ...(options.expectedDiffId !== undefined ? { expectedDiffId: options.expectedDiffId } : {}),
      };
      pooled.worker.postMessage(request);
    });
    return applying;
  }

  /** Stops every worker; a running apply fails. Later applies run on the calling thread. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.workers];
    this.workers.clear();
    for (const p of all) {
      clearTimeout(p.idleTimer);
      p.job?.reject(new Error('layer apply stopped: the daemon is shutting down'));
      p.job = undefined;
    }
    await Promise.all(all.map((p) => p.worker.terminate()));
  }

  /** Workers alive now (for tests and metrics). */
  get size(): number {
    return this.workers.size;
  }

  private idleWorker(): PooledWorker | undefined {
    for (const p of this.workers) {
      if (!p.job) {
        clearTimeout(p.idleTimer);
        return p;
      }
    }
    return this.workers.size < this.maxWorkers ? this.spawn() : undefined;
  }

  private spawn(): PooledWorker {
    const pooled: PooledWorker = { worker: new Worker(new URL('./apply-worker.js', import.meta.url)) };
    this.workers.add(pooled);
    const finish = (): RunningJob | undefined => {
      const job = pooled.job;
      pooled.job = undefined;
      job?.stopListening?.();
      if (this.workers.has(pooled)) {
        clearTimeout(pooled.idleTimer);
        pooled.idleTimer = setTimeout(() => this.retire(pooled), this.idleTimeoutMs);
        pooled.idleTimer.unref();
      }
      return job;
    };
    pooled.worker.on('message', (reply: WorkerReply) => {
      const job = pooled.job;
      if (!job || job.id !== reply.job) return;
      if (reply.type === 'needLowers') {
        const lowers = job.options.lowerDirs ? job.options.lowerDirs() : Promise.resolve([]);
        lowers.then(
          (dirs) => pooled.worker.postMessage({ type: 'lowers', job: job.id, dirs } satisfies WorkerRequest),
          (err: Error) => pooled.worker.postMessage({ type: 'lowersFailed', job: job.id, message: err.message } satisfies WorkerRequest),
        );
      } else if (reply.type === 'done') {
        finish()?.resolve(reply.result);
      } else {
        const { name, message, code } = reply.error;
        finish()?.reject(code ? new WorkerApplyError(name, code, message) : Object.assign(new Error(message), { name }));
      }
    });
    const lost = (why: string): void => {
      if (!this.workers.delete(pooled)) return;
      clearTimeout(pooled.idleTimer);
      pooled.job?.reject(new Error(`layer apply worker ${why}`));
      pooled.job = undefined;
    };
    pooled.worker.on('error', (err) => lost(`failed: ${err.message}`));
    pooled.worker.on('exit', (code) => lost(`exited with code ${code}`));
    return pooled;
  }

  private retire(pooled: PooledWorker): void {
    if (pooled.job || !this.workers.delete(pooled)) return;
    // The exited threads' malloc arenas stay with the process unless trimmed; a trim walks every arena
    // (milliseconds on the event loop), so it waits for the last worker to go.
    void pooled.worker
      .terminate()
      .then(() => {
        if (this.workers.size === 0 && nativeAvailable()) mallocTrim();
      })
      .catch(() => undefined);
  }
}
