import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ContentStore } from '../content/store.js';
import { LayerApplyWorkers, type FileApplyOptions, type GrowingLayerFile } from '../diff/apply-workers.js';
import type { RegistryClient, RegistryHost } from '../distribution/client.js';
import { parseReference, type ImageReference } from '../distribution/reference.js';
import { CancelledError, FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { Lease, LeaseManager } from '../leases/leases.js';
import type { OverlaySnapshotter } from '../snapshots/overlay.js';
import { allSettledOrThrow, Semaphore, SingleFlight } from '../util/concurrency.js';
import { chainIds } from './chain-id.js';
import type { ImageRecord, ImageStore } from './image-store.js';
import { parseImageConfig, parseManifest, parseManifestOrIndex, selectPlatform, type Descriptor, type ImageConfig } from './manifest.js';
import { isLayerType } from './media-types.js';
import { BlobDownloads, type BlobDownload } from './blob-downloads.js';
import { SnapshotCommits } from './snapshot-commits.js';

export const DEFAULT_PLATFORM = { os: 'linux', architecture: 'amd64' } as const;
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** Smaller layers are unpacked once downloaded: following their download costs more than it saves. */
const FOLLOW_DOWNLOAD_MIN_BYTES = 1 << 20;

export interface PullProgress {
  /** Called with the bytes of a blob as they arrive (for progress bars and metrics). */
  onBytes?(digest: string, bytes: number): void;
}

export interface PulledImage {
  /** The image id: the config digest. */
  id: string;
  records: ImageRecord[];
  config: ImageConfig;
}

export interface PullerDeps {
  content: ContentStore;
  snapshots: OverlaySnapshotter;
  images: ImageStore;
  leases: LeaseManager;
  /** Layers downloaded at once per pull. */
  concurrentDownloads?: number;
  /** Layers unpacked at once per pull. */
  concurrentUnpacks?: number;
}

/**
 * Pull = resolve → fetch manifest(s), config and layers into the content store
 * (digest-verified) → unpack each layer into an overlay snapshot keyed by its
 * chain id → record the image names. Downloads run concurrently; each layer is
 * unpacked (on a worker thread) while it downloads, reading its ingest file
 * as it grows, side by side with the others, and committed onto its parent
 * once that one is committed and its diffID checks out. The image is recorded
 * only when every layer is committed and every blob verified and stored, so a
 * crash never leaves a visible half image. Concurrent pulls share blob
 * downloads and unpacks; a shared unpack never depends on one pull staying.
 */
export class ImagePuller {
  private readonly blobFlights = new SingleFlight<void>();
  private readonly unpackFlights = new SingleFlight<void>();
  private readonly pullFlights = new SingleFlight<PulledImage>();
  private readonly downloads: Semaphore;
  private readonly unpackWindow: number;
  private readonly appliers: LayerApplyWorkers;
  private readonly inProgress = new BlobDownloads();
  private readonly commits: SnapshotCommits;

  constructor(private readonly deps: PullerDeps) {
    this.downloads = new Semaphore(deps.concurrentDownloads ?? 4);
    this.unpackWindow = Math.max(1, deps.concurrentUnpacks ?? 2);
    // One worker per unpack of a pull, and room for a second pull; beyond that, unpacks run in-process.
    this.appliers = new LayerApplyWorkers({ maxWorkers: 2 * this.unpackWindow });
    this.commits = new SnapshotCommits((chainId) => deps.snapshots.stat(chainId)?.kind === 'committed');
  }

  /** Stops the unpack workers (a running unpack fails). */
  close(): Promise<void> {
    return this.appliers.close();
  }

  /** Pulls `reference`; concurrent pulls of it share the work, which stops once every caller's `signal` has aborted. */
  pull(reference: string, client: RegistryClient, progress: PullProgress = {}, flightKey = reference, signal?: AbortSignal): Promise<PulledImage> {
    const ref = parseReference(reference);
    return this.pullFlights.do(`${ref.toString()}\n${flightKey}`, (flightSignal) => this.pullRetryingForeignFailures(ref, client, progress, flightSignal), signal);
  }

  /**
   * Downloads and unpacks are shared by digest with other pulls, whatever
   * registry, repository or credentials those use. When this pull fails with
   * the error of one that another pull started (another registry lied, or
   * refused the other pull's credentials), it runs once more: the failed work
   * is gone by then, so it starts afresh with this pull's own client.
   */
  private async pullRetryingForeignFailures(ref: ImageReference, client: RegistryClient, progress: PullProgress, signal: AbortSignal): Promise<PulledImage> {
    const failures: ForeignFailures = { errors: new Set() };
    try {
      return await this.pullOnce(ref, client, progress, signal, failures);
    } catch (err) {
      if (!failures.errors.has(err) || signal.aborted) throw err;
      return this.pullOnce(ref, client, progress, signal, { errors: new Set() });
    }
  }

  private async pullOnce(ref: ImageReference, client: RegistryClient, progress: PullProgress, flightSignal: AbortSignal, failures: ForeignFailures): Promise<PulledImage> {
    const lease = this.deps.leases.create();
    const unpackKeys: string[] = [];
    // Ends with this pull: downloads still queued when one layer fails stop instead of running on.
    const ended = new AbortController();
    const signal = AbortSignal.any([flightSignal, ended.signal]);
    try {
      const resolved = await client.resolve(ref, signal);
      const host = resolved.host;
      await this.storeBuffer(lease, resolved.descriptor.digest, resolved.body);

      let manifestDesc = resolved.descriptor;
      let manifestBody = resolved.body;
      const top = parseManifestOrIndex(resolved.body, resolved.descriptor.mediaType);
      if (top.kind === 'index') {
        const chosen = selectPlatform(top.index, DEFAULT_PLATFORM);
        const fetched = await client.fetchManifest(host, ref.path, chosen.digest, signal);
        manifestDesc = fetched.descriptor;
        manifestBody = fetched.body;
        await this.storeBuffer(lease, manifestDesc.digest, manifestBody);
      }
      const manifest = parseManifest(manifestBody, manifestDesc.mediaType);
      const layers = manifest.layers.filter((l) => isLayerType(l.mediaType));
      if (layers.length !== manifest.layers.length) {
        throw new InvalidArgumentError(`image ${ref.toString()} has layers of unsupported media types`);
      }

      lease.add('content', [manifest.config.digest, ...layers.map((l) => l.digest)]);
      // Layers download while the config arrives; a failure is reported through the unpacks below.
      const configFetch = this.fetchBlob(client, host, ref, manifest.config, progress, signal, failures);
      const downloads = layers.map((layer) => this.fetchBlob(client, host, ref, layer, progress, signal, failures));
      downloads.forEach((d) => d.catch(() => undefined));
      let diffIds: string[];
      let config: ImageConfig;
      try {
        await configFetch;
        config = parseImageConfig(await this.deps.content.readAll(manifest.config.digest, MAX_CONFIG_BYTES));
        diffIds = config.rootfs.diff_ids;
        if (diffIds.length !== layers.length) {
          throw new FailedPreconditionError(
            `image ${ref.toString()}: manifest lists ${layers.length} layers but the config has ${diffIds.length} diff_ids`,
          );
        }
      } catch (err) {
        ended.abort(err); // no use downloading the layers of an image whose config is wrong
        await Promise.allSettled(downloads);
        throw err;
      }
      const chain = chainIds(diffIds);
      lease.add('snapshot', chain);
      unpackKeys.push(...layers.map((layer, i) => unpackKey(chain[i]!, layer.digest)));
      await this.unpackAll(layers, diffIds, chain, downloads, signal, failures);
      // A layer may be unpacked (and its diffID verified) before its blob is: the image needs both.
      await allSettledOrThrow(downloads);

      const size = manifestDesc.size + manifest.config.size + layers.reduce((n, l) => n + l.size, 0);
      const base = {
        targetDigest: resolved.descriptor.digest,
        targetMediaType: resolved.descriptor.mediaType,
        targetSize: resolved.descriptor.size,
        manifestDigest: manifestDesc.digest,
        configDigest: manifest.config.digest,
        size,
        pinned: false,
        labels: chain.length > 0 ? { 'berth.io/chain-id': chain[chain.length - 1]! } : ({} as Record<string, string>),
      };
      const names = [`${ref.repository()}@${resolved.descriptor.digest}`];
      if (ref.tag) names.unshift(`${ref.repository()}:${ref.tag}`);
      const records = names.map((name) => ({ ...base, name }));
      this.deps.images.putAll(records);
      const stored = names.map((n) => this.deps.images.get(n)!);
      return { id: manifest.config.digest, records: stored, config };
    } finally {
      ended.abort(new CancelledError(`pull of ${ref.toString()} ended`));
      // Unpacks this pull was the last to want wind down first: on a full disk, their files hold the space
      // the lease's release needs.
      await Promise.all(unpackKeys.map((key) => this.unpackFlights.drained(key)));
      lease.release();
    }
  }

  private async storeBuffer(lease: Lease, digest: string, body: Buffer): Promise<void> {
    lease.add('content', digest);
    if (await this.deps.content.info(digest)) return;
    await this.blobFlights.do(digest, async () => {
      await this.deps.content.ingest(`buffer-${digest}`, Readable.from([body]), { digest, size: body.length });
    });
  }

  /**
   * Downloads a blob into the content store (once, however many pulls ask; the
   * caller leases it), stopped when every pull waiting for it has aborted.
   */
  private fetchBlob(client: RegistryClient, host: RegistryHost, ref: ImageReference, desc: Descriptor, progress: PullProgress, signal: AbortSignal, failures: ForeignFailures): Promise<void> {
    return runOrJoinFlight(this.blobFlights, desc.digest, failures, signal, async (blobSignal) => {
      // Every attempt reports how it ends: unpacks waiting on this blob hear it there.
      const download = this.inProgress.start(desc.digest);
      try {
        if (!(await this.deps.content.info(desc.digest))) {
          await this.downloads.run(async () => {
            blobSignal.throwIfAborted();
            await this.deps.content.ingest(
              `fetch-${desc.digest}`,
              async (offset) => {
                const stream = await client.fetchBlob(host, ref.path, desc, offset, blobSignal);
                if (progress.onBytes) stream.on('data', (chunk: Buffer) => progress.onBytes!(desc.digest, chunk.length));
                return stream;
              },
              { digest: desc.digest, size: desc.size },
              { opened: (path, offset) => download.opened(path, offset), written: (total) => download.written(total) },
            );
          });
        }
        download.finished();
      } catch (err) {
        download.failed(err as Error, blobSignal.aborted);
        throw err;
      }
    });
  }

  /**
   * Unpacks the layers, up to `concurrentUnpacks` at once, each into its own
   * parentless snapshot as soon as its blob can be read; layer i is committed
   * onto layer i-1 once that one is committed. Waits for every unpack to
   * settle, then reports the failure of the lowest layer, if any.
   */
  private async unpackAll(layers: Descriptor[], diffIds: string[], chain: string[], downloads: Promise<void>[], signal: AbortSignal, failures: ForeignFailures): Promise<void> {
    const unpacks: Promise<void>[] = [];
    // Layers above a failed one are not unpacked; those below still are (their failure would be the one to report).
    let lowestFailed = Number.POSITIVE_INFINITY;
    for (let i = 0; i < layers.length; i++) {
      const leavingWindow = i >= this.unpackWindow ? unpacks[i - this.unpackWindow] : undefined;
      const parentChainId = i > 0 ? chain[i - 1] : undefined;
      // The unpack is shared with other pulls of this chain: this pull stops waiting for it (with that error)
      // once its own download of the layer, or its own unpack of the parent layer, fails.
      const gaveUp = new AbortController();
      downloads[i]!.catch((err: unknown) => gaveUp.abort(err));
      unpacks[i - 1]?.catch((err: unknown) => gaveUp.abort(err));
      const unpack = (async () => {
        await leavingWindow?.catch(() => undefined);
        if (lowestFailed < i) throw new FailedPreconditionError(`layer ${layers[i]!.digest} not unpacked: a lower layer failed`);
        signal.throwIfAborted();
        gaveUp.signal.throwIfAborted();
        await this.unpack(layers[i]!, diffIds[i]!, chain[i]!, parentChainId, AbortSignal.any([signal, gaveUp.signal]), failures);
      })();
      unpack.catch(() => {
        lowestFailed = Math.min(lowestFailed, i);
      });
      unpacks.push(unpack);
    }
    const results = await Promise.allSettled(unpacks);
    const firstFailure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
  }

  /**
   * Unpacks a layer once its blob can be read: following its download for a
   * big layer, from the stored blob otherwise. Shared by every pull that
   * needs this chain id, so it waits on the blob through BlobDownloads, never
   * on one pull's download promise (that pull may go away).
   */
  private unpack(layer: Descriptor, diffId: string, chainId: string, parentChainId: string | undefined, signal: AbortSignal, failures: ForeignFailures): Promise<void> {
    return runOrJoinFlight(this.unpackFlights, unpackKey(chainId, layer.digest), failures, signal, async (flightSignal) => {
      if (this.deps.snapshots.stat(chainId)?.kind === 'committed') return;
      await this.unpackWhenReadable(layer, diffId, chainId, parentChainId, flightSignal);
    });
  }

  /** Waits for the blob to be readable and unpacks it; starts over when the download it followed was abandoned. */
  private async unpackWhenReadable(layer: Descriptor, diffId: string, chainId: string, parentChainId: string | undefined, flightSignal: AbortSignal): Promise<void> {
    for (;;) {
      const following = await this.inProgress.ready(layer.digest, {
        follow: layer.size >= FOLLOW_DOWNLOAD_MIN_BYTES,
        isStored: async () => (await this.deps.content.info(layer.digest)) !== undefined,
        signal: flightSignal,
      });
      // The unpack's own lease: the pull that started it may end (and release its lease) while others still wait.
      let lease: Lease | undefined;
      try {
        lease = this.deps.leases.create();
        await this.unpackInto(lease, layer, diffId, chainId, parentChainId, following, flightSignal);
        return;
      } catch (err) {
        if (!following) throw err;
        // A broken or lying download breaks the unpack that follows it: report the download's failure.
        await Promise.race([following.settled, abortedPromise(flightSignal)]);
        flightSignal.throwIfAborted();
        // Every pull that wanted that attempt went away; the pull still waiting here started a new one.
        if (following.abandoned) continue;
        throw following.error ?? err;
      } finally {
        lease?.release();
      }
    }
  }

  /** One unpack into a new parentless snapshot, committed onto the parent; the snapshot goes if it fails. */
  private async unpackInto(
    lease: Lease,
    layer: Descriptor,
    diffId: string,
    chainId: string,
    parentChainId: string | undefined,
    following: BlobDownload | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const parentCommitted = (): Promise<void> => (parentChainId ? this.commits.committed(parentChainId, signal) : Promise.resolve());
    const key = `extract-${randomBytes(6).toString('hex')}-${chainId}`;
    lease.add('snapshot', key);
    // Parentless: the layer's own changes only, whiteouts as overlay markers; chained on commit.
    await this.deps.snapshots.prepare(key, undefined, { 'berth.io/unpacking': layer.digest });
    const dirs = this.deps.snapshots.layerDirs(key);
    try {
      const options: FileApplyOptions = {
        root: dirs.upper,
        whiteoutMode: 'overlay',
        // Only a hardlink to a file of a lower layer needs them, and waits for them.
        lowerDirs: async () => {
          if (!parentChainId) return [];
          await parentCommitted();
          const lower = this.deps.snapshots.layerDirs(parentChainId);
          return [lower.upper, ...lower.lowers];
        },
        expectedDiffId: diffId,
        signal,
      };
      if (following) await this.applyFollowing(layer, following, options);
      else await this.appliers.apply(this.deps.content.blobPath(layer.digest), layer.size, options);
      await parentCommitted();
      // Another blob of the same layer (compressed otherwise) may have been unpacked meanwhile: that one stands.
      if (this.deps.snapshots.stat(chainId)?.kind !== 'committed') {
        // The diffID is verified, so the files are the layer's even if its blob is not stored yet.
        await this.deps.snapshots.commit(chainId, key, { 'berth.io/layer': layer.digest }, parentChainId ? { parent: parentChainId } : {});
        return;
      }
    } catch (err) {
      await this.discardExtraction(key, dirs.upper);
      throw err;
    } finally {
      // Also when the commit failed after recording it, or another unpack committed it: children wait on this.
      if (this.deps.snapshots.stat(chainId)?.kind === 'committed') this.commits.announce(chainId);
    }
    await this.discardExtraction(key, dirs.upper);
  }

  private async discardExtraction(key: string, upper: string): Promise<void> {
    // Committed after all (a commit that failed after renaming the record): its files are the layer's now.
    if (this.deps.snapshots.stat(key)?.kind !== 'active') return;
    // Files first: on a full disk, removing the snapshot's record needs the space they hold.
    await rm(upper, { recursive: true, force: true }).catch(() => undefined);
    await this.deps.snapshots.remove(key).catch(() => undefined);
  }

  /** Applies a layer from its ingest file as the download writes it. */
  private async applyFollowing(layer: Descriptor, download: BlobDownload, options: FileApplyOptions): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(download.path, 'r');
    } catch {
      // Stored (renamed into the blob store) or failed meanwhile.
      await download.settled;
      if (download.error) throw download.error;
      await this.appliers.apply(this.deps.content.blobPath(layer.digest), layer.size, options);
      return;
    }
    try {
      const file: GrowingLayerFile = {
        fd: handle.fd,
        get available() {
          return download.available;
        },
        follow: (listener) => download.follow(listener),
      };
      await this.appliers.applyGrowing(file, layer.size, options);
    } finally {
      await handle.close();
    }
  }
}

/** An unpack's flight key: by chain and blob, since the same chain can come from differently compressed blobs. */
function unpackKey(chainId: string, digest: string): string {
  return `${chainId}\n${digest}`;
}

/** Resolves when `signal` aborts (never, if it never does). */
function abortedPromise(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The errors of work another pull started (a flight this attempt joined) that failed while this attempt waited on it. */
interface ForeignFailures {
  errors: Set<unknown>;
}

/**
 * Runs `work` as a flight of `flights`, or joins the one in progress; when a
 * joined flight fails, its error goes into `failures`.
 */
async function runOrJoinFlight<T>(flights: SingleFlight<T>, key: string, failures: ForeignFailures, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  let startedHere = false;
  try {
    return await flights.do(
      key,
      (flightSignal) => {
        startedHere = true;
        return work(flightSignal);
      },
      signal,
    );
  } catch (err) {
    if (!startedHere && !signal.aborted) failures.errors.add(err);
    throw err;
  }
}
