/**
 * Build catalog images and push each under all its mirror locations. Idempotent:
 * builds are deterministic and the registry skips blobs it already has.
 */
import { BuildContext, mirrorLocation, type CatalogImage } from './catalog.js';
import { ImagePusher } from './push.js';

export interface PublishOptions {
  /** `host:port` of the registry, e.g. `127.0.0.1:5000`. */
  registry: string;
  /** Where downloads and compiled programs are cached between runs. */
  cacheDir: string;
  /** Called once per pushed reference. */
  onPushed?: (report: PushedReference) => void;
}

export interface PushedReference {
  image: string;
  /** The upstream reference critest uses. */
  reference: string;
  /** `<registry>/<repo>:<tag>` as stored. */
  location: string;
  digest: string;
  uploaded: number;
}

export async function publishImages(images: readonly CatalogImage[], options: PublishOptions): Promise<PushedReference[]> {
  const ctx = new BuildContext(options.cacheDir);
  const pusher = new ImagePusher(options.registry);
  const reports: PushedReference[] = [];
  try {
    for (const image of images) {
      const built = await image.build(ctx);
      const pushedTags = new Set<string>();
      for (const reference of image.references) {
        const { repoPath, tag } = mirrorLocation(reference);
        const location = `${options.registry}/${repoPath}:${tag}`;
        // k8s.gcr.io/pause:3.9 and registry.k8s.io/pause:3.9 share one location.
        const uploaded = pushedTags.has(location) ? 0 : (await pusher.push(repoPath, [tag], built)).uploaded;
        pushedTags.add(location);
        const report = { image: image.name, reference, location, digest: built.manifest.descriptor.digest, uploaded };
        reports.push(report);
        options.onPushed?.(report);
      }
    }
  } finally {
    pusher.close();
  }
  return reports;
}
