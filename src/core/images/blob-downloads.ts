import type { GrowingFileListener } from '../diff/apply-workers.js';

/**
 * One attempt at writing a blob into the content store: where its ingest
 * file is, how much of it is written, who follows it (an unpack reading the
 * layer as it downloads), and how it ended.
 */
export class BlobDownload {
  path = '';
  available = 0;
  /** Why it failed, once it has. */
  error: Error | undefined;
  /** It failed because every pull that wanted it went away; a later pull starts a new attempt. */
  abandoned = false;
  private state: 'starting' | 'open' | 'finished' | 'failed' = 'starting';
  private readonly listeners = new Set<GrowingFileListener>();
  private settle!: () => void;
  /** Resolves once the attempt has finished or failed. */
  readonly settled = new Promise<void>((resolve) => (this.settle = resolve));

  constructor(private readonly announce: (event: DownloadEvent) => void) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  opened(path: string, offset: number): void {
    this.path = path;
    this.available = offset;
    this.state = 'open';
    this.announce({ type: 'opened', download: this });
  }

  written(total: number): void {
    this.available = total;
    for (const listener of this.listeners) listener.grown(total);
  }

  /** The blob is stored (or was already). */
  finished(): void {
    if (this.state === 'finished' || this.state === 'failed') return;
    this.state = 'finished';
    for (const listener of this.listeners) listener.finished();
    this.listeners.clear();
    this.settle();
    this.announce({ type: 'finished', download: this });
  }

  failed(err: Error, abandoned: boolean): void {
    if (this.state === 'finished' || this.state === 'failed') return;
    this.state = 'failed';
    this.error = err;
    this.abandoned = abandoned;
    for (const listener of this.listeners) listener.failed(err);
    this.listeners.clear();
    this.settle();
    this.announce({ type: 'failed', download: this });
  }

  /** Tells `listener` of later writes and how the attempt ends (at once, asynchronously, if it has). */
  follow(listener: GrowingFileListener): () => void {
    if (this.state === 'failed') {
      const err = this.error!;
      queueMicrotask(() => listener.failed(err));
      return () => undefined;
    }
    if (this.state === 'finished') {
      queueMicrotask(() => listener.finished());
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const MAX_REMEMBERED_FAILURES = 256;

type DownloadEvent = { type: 'opened' | 'finished' | 'failed'; download: BlobDownload };

export interface ReadyOptions {
  /** Resolve with a download as soon as its file is open (to follow it), not only once the blob is stored. */
  follow: boolean;
  /** Whether the blob is in the content store already. */
  isStored(): Promise<boolean>;
  signal: AbortSignal;
}

/**
 * The blob download attempts in progress, by digest. Every attempt ends with
 * finished() or failed(), which is what lets an unpack wait on the blob
 * without holding any one pull's promise (pulls come and go; the unpack is
 * shared by all of them).
 */
export class BlobDownloads {
  private readonly active = new Map<string, BlobDownload>();
  private readonly watchers = new Map<string, Set<(event: DownloadEvent) => void>>();
  /** The last attempt per digest when it failed (not abandoned), until another starts: an unpack arriving late still hears of it. */
  private readonly failures = new Map<string, BlobDownload>();

  /** Starts an attempt for `digest` (one at a time per digest: the puller's flights see to it). */
  start(digest: string): BlobDownload {
    const download = new BlobDownload((event) => {
      if (event.type !== 'opened' && this.active.get(digest) === download) {
        this.active.delete(digest);
        if (event.type === 'failed' && !download.abandoned) this.rememberFailure(digest, download);
      }
      for (const watch of [...(this.watchers.get(digest) ?? [])]) watch(event);
    });
    this.failures.delete(digest);
    this.active.set(digest, download);
    return download;
  }

  private rememberFailure(digest: string, download: BlobDownload): void {
    this.failures.delete(digest);
    this.failures.set(digest, download);
    // Bounded: the oldest go first (a Map iterates in insertion order).
    for (const oldest of this.failures.keys()) {
      if (this.failures.size <= MAX_REMEMBERED_FAILURES) break;
      this.failures.delete(oldest);
    }
  }

  /**
   * Waits until the blob can be read: resolves with its download once the
   * ingest file is open (with `follow`), or with undefined once it is stored.
   * Rejects with the error of a failed attempt, except an abandoned one (a
   * later attempt follows it), or with the signal's reason.
   */
  ready(digest: string, options: ReadyOptions): Promise<BlobDownload | undefined> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        this.watchers.get(digest)?.delete(watch);
        if (this.watchers.get(digest)?.size === 0) this.watchers.delete(digest);
        options.signal.removeEventListener('abort', onAbort);
        outcome();
      };
      const onAbort = (): void => done(() => reject(options.signal.reason));
      const watch = (event: DownloadEvent): void => {
        if (event.type === 'opened' && options.follow) done(() => resolve(event.download));
        else if (event.type === 'finished') done(() => resolve(undefined));
        else if (event.type === 'failed' && !event.download.abandoned) done(() => reject(event.download.error));
      };
      if (options.signal.aborted) {
        reject(options.signal.reason);
        return;
      }
      options.signal.addEventListener('abort', onAbort, { once: true });
      let watchers = this.watchers.get(digest);
      if (!watchers) this.watchers.set(digest, (watchers = new Set()));
      watchers.add(watch);
      const current = this.active.get(digest);
      if (options.follow && current?.isOpen) {
        done(() => resolve(current));
        return;
      }
      const failed = current ? undefined : this.failures.get(digest);
      if (failed) {
        done(() => reject(failed.error));
        return;
      }
      options.isStored().then(
        (stored) => {
          if (stored) done(() => resolve(undefined));
        },
        (err: unknown) => done(() => reject(err)),
      );
    });
  }
}
