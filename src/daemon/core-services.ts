import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { credentialsLookup } from '../config/registry-auth.js';
import { STALE_INGEST_MS } from '../core/gc/collector.js';
import type { BerthConfig } from '../config/schema.js';
import { LocalContentStore } from '../core/content/local-store.js';
import { ImageService } from '../core/images/image-service.js';
import { ImageStore } from '../core/images/image-store.js';
import { LeaseManager } from '../core/leases/leases.js';
import { openMetadataDb, type Db } from '../core/metadata/db.js';
import { directoryUsage, OverlaySnapshotter } from '../core/snapshots/overlay.js';
import type { Logger } from './logger.js';

export interface CoreServices {
  db: Db;
  content: LocalContentStore;
  snapshots: OverlaySnapshotter;
  images: ImageService;
  imageFsUsage(): Promise<{ mountpoint: string; bytes: number; inodes: number }>;
  close(): void;
}

const USAGE_CACHE_MS = 10_000;

/**
 * Opens the persistent stores under root and repairs what a crash may have
 * left: leases of the previous process, half-unpacked layers, snapshot
 * directories without a record, ingests of blobs already committed.
 */
export async function openCoreServices(config: BerthConfig, logger: Logger): Promise<CoreServices> {
  const db = openMetadataDb(join(config.root, 'metadata.db'));
  const content = new LocalContentStore(join(config.root, 'content'));
  const snapshots = new OverlaySnapshotter(db, join(config.root, 'snapshots'));
  await snapshots.init();
  const leases = new LeaseManager(db);
  const imageStore = new ImageStore(db);

  const staleLeases = leases.dropStale();
  let staleUnpacks = 0;
  for (const s of snapshots.list()) {
    if (s.kind === 'active' && s.key.startsWith('extract-')) {
      await snapshots.remove(s.key);
      staleUnpacks++;
    }
  }
  const orphanDirs = await snapshots.cleanup();
  const finishedIngests = await content.removeFinishedIngests(STALE_INGEST_MS);
  if (staleLeases + staleUnpacks + orphanDirs.length + finishedIngests.length > 0) {
    logger.info('recovered after an unclean stop', {
      staleLeases,
      staleUnpacks,
      orphanSnapshotDirs: orphanDirs.length,
      finishedIngests: finishedIngests.length,
    });
  }

  const images = new ImageService({
    content,
    snapshots,
    images: imageStore,
    leases,
    registryConfigPath: config.registry.config_path,
    onCollectError: (err) => logger.warn('collecting what a failed pull left behind', { error: (err as Error).message }),
    registryCredentials: credentialsLookup(config.registry.configs),
  });

  let cached: { at: number; value: Promise<{ bytes: number; inodes: number }> } | undefined;
  const imageFsUsage = async () => {
    if (!cached || Date.now() - cached.at > USAGE_CACHE_MS) {
      cached = { at: Date.now(), value: directoryUsage(snapshots.root) };
    }
    const usage = await cached.value;
    return { mountpoint: snapshots.root, ...usage };
  };

  await mkdir(join(config.root, 'content'), { recursive: true });
  return {
    db,
    content,
    snapshots,
    images,
    imageFsUsage,
    close: () => {
      images.close();
      db.close();
    },
  };
}
