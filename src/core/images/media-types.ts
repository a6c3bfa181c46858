/** Media types of OCI and Docker schema 2 images, as registries and content stores label them. */

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNonDistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNonDistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',

  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1 is long deprecated; recognised only to reject it with a clear message. */
  dockerSchema1Manifest: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1SignedManifest: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** Everything a client may accept when resolving a tag, best first. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
];

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export function isManifestType(mediaType: string): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

export function isConfigType(mediaType: string): boolean {
  return mediaType === MediaType.ociConfig || mediaType === MediaType.dockerConfig;
}

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** The compression of a layer blob, or undefined when the media type is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MediaType.ociLayer:
    case MediaType.ociLayerNonDistributable:
    case MediaType.dockerLayer:
      return 'none';
    case MediaType.ociLayerGzip:
    case MediaType.ociLayerNonDistributableGzip:
    case MediaType.dockerLayerGzip:
    case MediaType.dockerForeignLayerGzip:
      return 'gzip';
    case MediaType.ociLayerZstd:
    case MediaType.ociLayerNonDistributableZstd:
    case MediaType.dockerLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

export function isLayerType(mediaType: string): boolean {
  return layerCompression(mediaType) !== undefined;
}

/** Foreign / non-distributable layers may live outside the registry (their `urls`). */
export function isForeignLayerType(mediaType: string): boolean {
  return (
    mediaType === MediaType.dockerForeignLayerGzip ||
    mediaType === MediaType.ociLayerNonDistributable ||
    mediaType === MediaType.ociLayerNonDistributableGzip ||
    mediaType === MediaType.ociLayerNonDistributableZstd
  );
}
