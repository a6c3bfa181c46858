import type { ContentStore } from '../content/store.js';
import { chainIds } from '../images/chain-id.js';
import type { ImageStore } from '../images/image-store.js';
import { parseImageConfig, parseManifest } from '../images/manifest.js';
import type { LeaseManager } from '../leases/leases.js';
import type { OverlaySnapshotter } from '../snapshots/overlay.js';

export interface CollectResult {
  blobsRemoved: number;
  bytesFreed: number;
  snapshotsRemoved: number;
}

export interface CollectorDeps {
  content: ContentStore;
  snapshots: OverlaySnapshotter;
  images: ImageStore;
  leases: LeaseManager;
}

const MAX_METADATA_BLOB = 8 * 1024 * 1024;

/**
 * Mark and sweep: everything an image name reaches (its target, manifest,
 * config, layers and their snapshots) or a lease protects is kept; other
 * blobs and committed snapshots without children are removed. Writable
 * container snapshots are never collected here: their owners remove them.
 * Callers must keep pulls out while this runs (ImageService's lock).
 */
export async function collectGarbage(deps: CollectorDeps): Promise<CollectResult> {
  const liveContent = deps.leases.leased('content');
  const liveSnapshots = deps.leases.leased('snapshot');
  const seenManifests = new Set<string>();
  for (const image of deps.images.list()) {
    liveContent.add(image.targetDigest);
    liveContent.add(image.manifestDigest);
    liveContent.add(image.configDigest);
    if (seenManifests.has(image.manifestDigest)) continue;
    seenManifests.add(image.manifestDigest);
    try {
      const manifest = parseManifest(await deps.content.readAll(image.manifestDigest, MAX_METADATA_BLOB));
      for (const layer of manifest.layers) liveContent.add(layer.digest);
      const config = parseImageConfig(await deps.content.readAll(image.configDigest, MAX_METADATA_BLOB));
      for (const id of chainIds(config.rootfs.diff_ids)) liveSnapshots.add(id);
    } catch {
      // An image whose metadata blobs are gone keeps its names; there is nothing more to mark.
    }
  }

  let blobsRemoved = 0;
  let bytesFreed = 0;
  const doomed: { digest: string; size: number }[] = [];
  for await (const blob of deps.content.walk()) {
    if (!liveContent.has(blob.digest)) doomed.push({ digest: blob.digest, size: blob.size });
  }
  for (const blob of doomed) {
    await deps.content.delete(blob.digest);
    blobsRemoved++;
    bytesFreed += blob.size;
  }

  let snapshotsRemoved = 0;
  for (;;) {
    const all = deps.snapshots.list();
    const parents = new Set(all.map((s) => s.parent).filter((p): p is string => p !== undefined));
    const removable = all.filter(
      (s) =>
        !parents.has(s.key) &&
        !liveSnapshots.has(s.key) &&
        (s.kind === 'committed' || (s.kind === 'active' && s.key.startsWith('extract-'))),
    );
    if (removable.length === 0) break;
    for (const s of removable) {
      await deps.snapshots.remove(s.key);
      snapshotsRemoved++;
    }
  }
  return { blobsRemoved, bytesFreed, snapshotsRemoved };
}
