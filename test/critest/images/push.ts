/**
 * Push an assembled image to a registry with berth's own distribution client:
 * layers and config first (skipped when the registry has them), then the manifest
 * under each tag. Pushing the same image twice changes nothing.
 */
import { Readable } from 'node:stream';
import { RegistryClient, type RegistryHost } from '../../../src/core/distribution/client.js';
import type { Blob, Descriptor, OciImage } from './image.js';

export interface PushResult {
  /** Digest of the manifest, the same under every tag. */
  digest: string;
  /** Blobs actually uploaded (the others were already there). */
  uploaded: number;
}

export class ImagePusher {
  private readonly client: RegistryClient;
  private hostPromise: Promise<RegistryHost> | undefined;

  /** `registry` is `host:port`; loopback registries are spoken to over plain HTTP. */
  constructor(
    readonly registry: string,
    client?: RegistryClient,
  ) {
    this.client = client ?? new RegistryClient({ userAgent: 'berth-critest-images/0.1' });
  }

  async push(repoPath: string, tags: readonly string[], image: OciImage): Promise<PushResult> {
    if (tags.length === 0) throw new Error(`push of ${repoPath}: at least one tag is needed`);
    const host = await this.host();
    const blobs: Blob[] = [
      ...image.layers.map((l) => ({ descriptor: { mediaType: l.mediaType, digest: l.digest, size: l.size }, bytes: l.compressed })),
      image.config,
    ];
    let uploaded = 0;
    for (const blob of blobs) {
      if (await this.pushBlob(host, repoPath, blob.descriptor, blob.bytes)) uploaded++;
    }
    for (const tag of tags) {
      const pushed = await this.client.pushManifest(host, repoPath, tag, image.manifest.descriptor.mediaType, image.manifest.bytes);
      if (pushed.digest !== image.manifest.descriptor.digest) {
        throw new Error(`push of ${repoPath}:${tag}: registry client computed ${pushed.digest}, expected ${image.manifest.descriptor.digest}`);
      }
    }
    return { digest: image.manifest.descriptor.digest, uploaded };
  }

  close(): void {
    this.client.close();
  }

  private host(): Promise<RegistryHost> {
    this.hostPromise ??= this.client.pushHost(this.registry);
    return this.hostPromise;
  }

  private pushBlob(host: RegistryHost, repoPath: string, descriptor: Descriptor, bytes: Buffer): Promise<boolean> {
    return this.client.pushBlob(host, repoPath, descriptor, () => Readable.from([bytes]));
  }
}
