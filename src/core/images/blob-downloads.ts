import type { GrowingFileListener } from '../diff/apply-workers.js';

/**
 * One blob being written into the content store: where its ingest file is,
 * how much of it is written, and who follows it (an unpack reading the layer
 * as it downloads).
 */
export class BlobDownload {
  path = '';
  available = 0;
  private state: 'starting' | 'open' | 'finished' | 'failed' = 'starting';
  private error: Error | undefined;
  private readonly listeners = new Set<GrowingFileListener>();

  constructor(private readonly onOpen: () => void, private readonly onSettled: () => void) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  opened(path: string, offset: number): void {
    this.path = path;
    this.available = offset;
    this.state = 'open';
    this.onOpen();
  }

  written(total: number): void {
    this.available = total;
    for (const listener of this.listeners) listener.grown(total);
  }

  finished(): void {
    this.state = 'finished';
    this.listeners.clear();
    this.onSettled();
  }

  failed(err: Error): void {
    this.state = 'failed';
    this.error = err;
    for (const listener of this.listeners) listener.failed(err);
    this.listeners.clear();
    this.onSettled();
  }

  /** Tells `listener` of later writes and of a failure (at once, asynchronously, if it already failed). */
  follow(listener: GrowingFileListener): () => void {
    if (this.state === 'failed') {
      const err = this.error!;
      queueMicrotask(() => listener.failed(err));
      return () => undefined;
    }
    if (this.state === 'finished') return () => undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The blob downloads in progress, by digest. */
export class BlobDownloads {
  private readonly active = new Map<string, BlobDownload>();
  private readonly openWaiters = new Map<string, Set<() => void>>();

  /** Registers the download of `digest` (one at a time per digest: the puller's flights see to it). */
  start(digest: string): BlobDownload {
    const download = new BlobDownload(
      () => this.wake(digest),
      () => {
        if (this.active.get(digest) === download) this.active.delete(digest);
        this.wake(digest);
      },
    );
    this.active.set(digest, download);
    return download;
  }

  /**
   * The download of `digest` once its ingest file is open, or undefined if
   * `downloaded` settles first (the blob was already stored, or it failed).
   */
  whenOpened(digest: string, downloaded: Promise<void>): Promise<BlobDownload | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const check = (): void => {
        const download = this.active.get(digest);
        if (download?.isOpen !== true) return;
        finish(download);
      };
      const finish = (download: BlobDownload | undefined): void => {
        if (settled) return;
        settled = true;
        this.openWaiters.get(digest)?.delete(check);
        if (this.openWaiters.get(digest)?.size === 0) this.openWaiters.delete(digest);
        resolve(download);
      };
      check();
      if (settled) return;
      let waiters = this.openWaiters.get(digest);
      if (!waiters) this.openWaiters.set(digest, (waiters = new Set()));
      waiters.add(check);
      downloaded.then(
        () => finish(undefined),
        () => finish(undefined),
      );
    });
  }

  private wake(digest: string): void {
    for (const check of [...(this.openWaiters.get(digest) ?? [])]) check();
  }
}
