import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { RegistryClient } from '../../src/core/distribution/client.js';
import { packTar, sha256, type TarMember } from './tar-pack.js';

export type LayerEntry =
  | { type: 'file'; name: string; content: string | Buffer; mode?: number }
  | { type: 'directory'; name: string; mode?: number }
  | { type: 'symlink'; name: string; linkname: string }
  | { type: 'link'; name: string; linkname: string };

export type Compression = 'gzip' | 'zstd' | 'none';

export interface BuiltBlob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface BuiltLayer extends BuiltBlob {
  diffId: string;
}

export interface BuiltImage {
  config: BuiltBlob;
  manifest: BuiltBlob;
  layers: BuiltLayer[];
}

export function tarOf(entries: LayerEntry[]): Promise<Buffer> {
  const mtime = new Date(0);
  return packTar(
    entries.map((e): TarMember => {
      if (e.type === 'file') return { header: { name: e.name, mode: e.mode ?? 0o644, mtime }, content: e.content };
      if (e.type === 'directory') return { header: { name: e.name, type: 'directory', mode: e.mode ?? 0o755, mtime } };
      return { header: { name: e.name, type: e.type, linkname: e.linkname, mtime } };
    }),
  );
}

export async function buildLayer(entries: LayerEntry[], compression: Compression = 'gzip'): Promise<BuiltLayer> {
  const raw = await tarOf(entries);
  return layerFromTar(raw, compression);
}

export function layerFromTar(raw: Buffer, compression: Compression = 'gzip'): BuiltLayer {
  let data = raw;
  let mediaType = 'application/vnd.oci.image.layer.v1.tar';
  if (compression === 'gzip') {
    data = gzipSync(raw);
    mediaType += '+gzip';
  } else if (compression === 'zstd') {
    data = execFileSync('zstd', ['-q', '-c'], { input: raw });
    mediaType += '+zstd';
  }
  return { mediaType, digest: sha256(data), size: data.length, data, diffId: sha256(raw) };
}

export interface ImageOptions {
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  architecture?: string;
  /** Paths for the config's `Volumes` (a Dockerfile's VOLUME). */
  volumes?: string[];
}

export function buildImage(layers: BuiltLayer[], options: ImageOptions = {}): BuiltImage {
  const configJson = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: 'linux',
      config: {
        User: options.user ?? '',
        Env: options.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(options.entrypoint ? { Entrypoint: options.entrypoint } : {}),
        Cmd: options.cmd ?? ['sh'],
        ...(options.volumes ? { Volumes: Object.fromEntries(options.volumes.map((v) => [v, {}])) } : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: 'berth test' })),
    }),
  );
  const config: BuiltBlob = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: sha256(configJson),
    size: configJson.length,
    data: configJson,
  };
  const manifestJson = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return {
    config,
    layers,
    manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifestJson), size: manifestJson.length, data: manifestJson },
  };
}

/** An OCI index over several images, each with its platform. */
export function buildIndex(images: { image: BuiltImage; architecture: string }[]): BuiltBlob {
  const json = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({ image, architecture }) => ({
        mediaType: image.manifest.mediaType,
        digest: image.manifest.digest,
        size: image.manifest.size,
        platform: { os: 'linux', architecture },
      })),
    }),
  );
  return { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(json), size: json.length, data: json };
}

/** Pushes an image's blobs and manifest (and, optionally, tags an index instead) with berth's client. */
export async function pushImage(registryHost: string, repo: string, tag: string, image: BuiltImage, client = new RegistryClient({})): Promise<void> {
  const host = await client.pushHost(registryHost);
  for (const blob of [image.config, ...image.layers]) {
    await client.pushBlob(host, repo, blob, () => Readable.from([blob.data]));
  }
  await client.pushManifest(host, repo, tag, image.manifest.mediaType, image.manifest.data);
}

export async function pushIndex(registryHost: string, repo: string, tag: string, images: { image: BuiltImage; architecture: string }[]): Promise<BuiltBlob> {
  const client = new RegistryClient({});
  const host = await client.pushHost(registryHost);
  for (const { image } of images) await pushImage(registryHost, repo, image.manifest.digest, image, client);
  const index = buildIndex(images);
  await client.pushManifest(host, repo, tag, index.mediaType, index.data);
  return index;
}
