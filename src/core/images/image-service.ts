import type { ContentStore } from '../content/store.js';
import { RegistryClient, type Credentials } from '../distribution/client.js';
import { parseReference } from '../distribution/reference.js';
import { InvalidArgumentError } from '../errors.js';
import { collectGarbage, type CollectResult } from '../gc/collector.js';
import type { LeaseManager } from '../leases/leases.js';
import type { OverlaySnapshotter } from '../snapshots/overlay.js';
import { ReadWriteLock } from '../util/concurrency.js';
import type { ImageRecord, ImageStore } from './image-store.js';
import { parseImageConfig, type ImageConfig } from './manifest.js';
import { ImagePuller, type PullProgress, type PulledImage } from './puller.js';

/** One image: its id (config digest) and every name pointing at it. */
export interface ImageGroup {
  id: string;
  records: ImageRecord[];
  repoTags: string[];
  repoDigests: string[];
  size: number;
  pinned: boolean;
}

export interface ImageServiceDeps {
  content: ContentStore;
  snapshots: OverlaySnapshotter;
  images: ImageStore;
  leases: LeaseManager;
  registryConfigPath?: string;
  /** Told when the collection after a failed pull fails (it runs in the background). */
  onCollectError?: (err: unknown) => void;
  /** Credentials by registry host, for pulls that bring none (berth.toml's [registry.configs]). */
  registryCredentials?: (host: string) => Credentials | undefined;
}

const FULL_ID = /^(?:sha256:)?([a-f0-9]{64})$/;
const ID_PREFIX = /^(?:sha256:)?([a-f0-9]{6,63})$/;

/** A pull request's own credentials: which to send to each registry host, and a key telling requests apart. */
export interface PullCredentials {
  forHost(host: string): Credentials | undefined;
  /** Equal for equal credentials: pulls share their work only with pulls that bring the same. */
  key: string;
}

/**
 * The image half of berth, used by the CRI ImageService and by sandbox and
 * container creation: pull, look up by any name or id, list, remove + collect.
 */
export class ImageService {
  private readonly puller: ImagePuller;
  private readonly gcLock = new ReadWriteLock();
  private queuedCollection: Promise<CollectResult> | undefined;
  /** The lock is first come, first served: this one settles after every collection before it. */
  private lastCollection: Promise<unknown> = Promise.resolve();
  /** For pulls without CRI credentials: configured credentials per host, shared token cache. */
  private readonly defaultClient: RegistryClient;
  private readonly configCache = new Map<string, ImageConfig>();

  constructor(private readonly deps: ImageServiceDeps) {
    this.puller = new ImagePuller(deps);
    this.defaultClient = new RegistryClient({
      configPath: deps.registryConfigPath,
      userAgent: 'berth',
      ...(deps.registryCredentials ? { credentials: deps.registryCredentials } : {}),
    });
  }

  /**
   * Pulls an image, with the request's credentials if given (for the hosts
   * they are meant for), else with those configured per host. `signal` is the caller's: when every caller of the same
   * pull has aborted, the downloads stop. A failed pull leaves nothing behind:
   * what it stored but no image references is collected (queued right away,
   * so later pulls and removals wait for it).
   */
  async pull(reference: string, credentials?: PullCredentials, progress?: PullProgress, signal?: AbortSignal): Promise<PulledImage> {
    parseReference(reference); // a malformed name fails here, before anything is stored
    try {
      return await this.gcLock.read(async () => {
        if (!credentials) return this.puller.pull(reference, this.defaultClient, progress, undefined, signal);
        const client = new RegistryClient({ configPath: this.deps.registryConfigPath, userAgent: 'berth', credentials: credentials.forHost });
        try {
          return await this.puller.pull(reference, client, progress, `auth:${credentials.key}`, signal);
        } finally {
          client.close();
        }
      });
    } catch (err) {
      this.collect().catch((gcErr: unknown) => this.deps.onCollectError?.(gcErr));
      throw err;
    }
  }

  /**
   * Finds an image by id (full or unique prefix, with or without sha256:),
   * by reference (normalised as Docker does) or by repo digest.
   */
  find(text: string): ImageGroup | undefined {
    const trimmed = text.trim();
    if (!trimmed) throw new InvalidArgumentError('image reference must not be empty');
    const full = FULL_ID.exec(trimmed);
    if (full) {
      const byId = this.group(`sha256:${full[1]}`);
      if (byId) return byId;
    }
    const prefix = ID_PREFIX.exec(trimmed);
    if (prefix) {
      const matches = this.deps.images.configDigestsWithPrefix(`sha256:${prefix[1]}`);
      if (matches.length === 1) return this.group(matches[0]!);
    }
    let name: string;
    try {
      name = parseReference(trimmed).toString();
    } catch (err) {
      if (full || prefix) return undefined;
      throw err;
    }
    const record = this.deps.images.get(name);
    return record ? this.group(record.configDigest) : undefined;
  }

  list(): ImageGroup[] {
    const ids = [...new Set(this.deps.images.list().map((r) => r.configDigest))];
    return ids.map((id) => this.group(id)!).filter(Boolean);
  }

  /** The image's config (cached: configs are content-addressed, never change). */
  async config(imageId: string): Promise<ImageConfig> {
    const cached = this.configCache.get(imageId);
    if (cached) return cached;
    const config = parseImageConfig(await this.deps.content.readAll(imageId, 8 * 1024 * 1024));
    this.configCache.set(imageId, config);
    return config;
  }

  /** Removes every name of the image, then collects what nothing references any more. */
  async remove(imageId: string): Promise<CollectResult> {
    return this.gcLock.write(async () => {
      this.deps.images.deleteByConfigDigest(imageId);
      this.configCache.delete(imageId);
      return collectGarbage(this.deps);
    });
  }

  /**
   * Collects garbage once nothing else holds the lock. Requests made while a
   * collection is still waiting for the lock share it (it will see their
   * garbage too), so a burst of failed pulls queues one collection, not one each.
   */
  collect(): Promise<CollectResult> {
    if (!this.queuedCollection) {
      this.queuedCollection = this.gcLock.write(() => {
        this.queuedCollection = undefined;
        return collectGarbage(this.deps);
      });
      this.lastCollection = this.queuedCollection;
    }
    return this.queuedCollection;
  }

  /** Waits, at most `timeoutMs`, for collections started in the background (before the database closes). */
  async collectionsSettled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.lastCollection.catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.defaultClient.close();
    void this.puller.close();
  }

  private group(id: string): ImageGroup | undefined {
    const records = this.deps.images.byConfigDigest(id);
    if (records.length === 0) return undefined;
    return {
      id,
      records,
      repoTags: records.filter((r) => !r.name.includes('@')).map((r) => r.name),
      repoDigests: records.filter((r) => r.name.includes('@')).map((r) => r.name),
      size: records[0]!.size,
      pinned: records.some((r) => r.pinned),
    };
  }
}
