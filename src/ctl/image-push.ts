import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { LocalContentStore } from '../core/content/local-store.js';
import { RegistryClient, type ContentDescriptor, type Credentials, type RegistryHost } from '../core/distribution/client.js';
import { parseReference } from '../core/distribution/reference.js';
import { detectManifestType, parseManifest } from '../core/images/manifest.js';
import { isForeignLayerType } from '../core/images/media-types.js';
import type { ImageName } from './image-names.js';
import type { TransferProgress } from './progress.js';

export interface PushOptions {
  store: LocalContentStore;
  image: ImageName;
  /** Where to push: a reference with a tag (or digest); its domain picks the registry host. */
  target: string;
  /** The daemon's certs.d directory, so push goes where hosts.toml says. */
  registryConfigPath: string;
  /** Credentials to send to each registry host (the --user flag's, or those configured for the host). */
  credentials?: (host: string) => Credentials | undefined;
  /** Talk plain HTTP to the push host even when it is not localhost. */
  plainHttp?: boolean;
  progress: TransferProgress;
  /** Blobs uploaded at the same time (default 3). */
  concurrency?: number;
}

export interface PushResult {
  /** Full reference pushed, e.g. 127.0.0.1:5000/team/app:v1. */
  reference: string;
  manifestDigest: string;
  /** Blobs uploaded (the others were already in the repository). */
  uploaded: number;
  skipped: number;
}

/**
 * Pushes the image's platform manifest, its config and its layers from the
 * local content store: blobs first (HEAD-checked, so present ones are skipped),
 * the manifest last so the tag never points at missing blobs.
 */
export async function pushImage(options: PushOptions): Promise<PushResult> {
  const { store, image, progress } = options;
  const target = parseReference(options.target);
  const manifestBody = await store.readAll(image.manifestDigest);
  const mediaType = detectManifestType(manifestBody);
  const manifest = parseManifest(manifestBody, mediaType);

  const blobs: ContentDescriptor[] = [];
  for (const desc of [manifest.config, ...manifest.layers]) {
    if (blobs.some((b) => b.digest === desc.digest)) continue;
    const present = await store.info(desc.digest);
    if (present === undefined) {
      if (isForeignLayerType(desc.mediaType)) continue; // lives at its urls, not in registries
      throw new Error(`blob ${desc.digest} of ${image.name} is missing from the content store; pull the image again`);
    }
    blobs.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
  }

  const client = new RegistryClient({
    configPath: options.registryConfigPath,
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  try {
    let host = await client.pushHost(target.domain);
    if (options.plainHttp) host = withPlainHttp(host);
    for (const blob of blobs) progress.add(blob.digest, blob.size);

    let uploaded = 0;
    const queue = [...blobs];
    const worker = async (): Promise<void> => {
      for (let blob = queue.shift(); blob !== undefined; blob = queue.shift()) {
        const desc = blob;
        try {
          const open = (): Readable => countingStream(store.openRead(desc.digest), (n) => progress.setSent(desc.digest, n));
          const sent = await client.pushBlob(host, target.path, desc, open);
          progress.setState(desc.digest, sent ? 'done' : 'exists');
          if (sent) uploaded++;
        } catch (err) {
          progress.setState(desc.digest, 'failed');
          throw err;
        }
      }
    };
    const workers = Array.from({ length: Math.max(1, options.concurrency ?? 3) }, () => worker());
    const outcomes = await Promise.allSettled(workers);
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;

    // A name pinned to an index digest is pushed as the one platform manifest berth keeps.
    const object = target.digest === image.targetDigest ? image.manifestDigest : target.object();
    const pushed = await client.pushManifest(host, target.path, object, mediaType, manifestBody);
    const reference = target.digest ? `${target.repository()}@${pushed.digest}` : target.toString();
    return { reference, manifestDigest: pushed.digest, uploaded, skipped: blobs.length - uploaded };
  } finally {
    progress.finish();
    client.close();
  }
}

function withPlainHttp(host: RegistryHost): RegistryHost {
  if (host.url.protocol === 'http:') return host;
  const url = new URL(host.url.href);
  url.protocol = 'http:';
  return { ...host, url };
}

/** Passes data through, reporting the running byte count. */
function countingStream(source: Readable, onBytes: (total: number) => void): Readable {
  let total = 0;
  onBytes(0);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      total += chunk.length;
      onBytes(total);
      callback(null, chunk);
    },
  });
  return pipeline(source, counter, () => {});
}
