import type { ContentStore } from '../content/store.js';
import { chainIds } from '../images/chain-id.js';
import { allSettledOrThrow } from '../util/concurrency.js';
import type { ImageStore } from '../images/image-store.js';
import { parseImageConfig, parseManifest } from '../images/manifest.js';
import type { LeaseManager } from '../leases/leases.js';
import type { OverlaySnapshotter } from '../snapshots/overlay.js';
import type { SnapshotInfo } from '../snapshots/snapshotter.js';

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
/** A partial download nothing has written to for this long is dropped (containerd's pull leases expire after 24 h too). */
export const STALE_INGEST_MS = 24 * 60 * 60 * 1000;

/**
 * Mark and sweep: everything an image name reaches (its target, manifest,
 * config, layers and their snapshots) or a lease protects is kept; other
 * blobs and committed snapshots nothing live builds on are removed.
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

  const doomedBlobs: { digest: string; size: number }[] = [];
  for await (const blob of deps.content.walk()) {
    if (!liveContent.has(blob.digest)) doomedBlobs.push({ digest: blob.digest, size: blob.size });
  }
  // Every delete settles before an error is thrown: the lock must not be released under a running unlink.
  await allSettledOrThrow(doomedBlobs.map((blob) => deps.content.delete(blob.digest)));
  await deps.content.removeFinishedIngests(STALE_INGEST_MS);
  const bytesFreed = doomedBlobs.reduce((n, blob) => n + blob.size, 0);

  const doomedSnapshots = unreachableSnapshots(deps.snapshots.list(), liveSnapshots);
  await deps.snapshots.removeAll(doomedSnapshots);
  return { blobsRemoved: doomedBlobs.length, bytesFreed, snapshotsRemoved: doomedSnapshots.length };
}

/**
 * The snapshots to collect, children before parents: committed ones (and
 * extractions a crashed pull left) that nothing live is built on. Writable
 * container snapshots are never collected here: their owners remove them.
 */
export function unreachableSnapshots(all: readonly SnapshotInfo[], live: ReadonlySet<string>): string[] {
  let remaining = [...all];
  const doomed: string[] = [];
  for (;;) {
    const parents = new Set(remaining.map((s) => s.parent).filter((p): p is string => p !== undefined));
    const removable = remaining.filter(
      (s) => !parents.has(s.key) && !live.has(s.key) && (s.kind === 'committed' || (s.kind === 'active' && s.key.startsWith('extract-'))),
    );
    if (removable.length === 0) return doomed;
    const gone = new Set(removable.map((s) => s.key));
    doomed.push(...gone);
    remaining = remaining.filter((s) => !gone.has(s.key));
  }
}
