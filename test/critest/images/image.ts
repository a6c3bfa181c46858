/**
 * OCI image assembly: the config JSON (platform, run settings, diff_ids, history)
 * and the manifest that names it and the layers. Pure: the same layers and settings
 * give byte-identical JSON, so the same digests.
 */
import { sha256 } from '../../support/tar-pack.js';
import type { BuiltLayer } from './layer.js';

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
/** A fixed creation time keeps config digests stable across rebuilds. */
export const IMAGE_CREATED = '2024-01-01T00:00:00Z';
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunSettings {
  /** `uid`, `name`, `uid:gid` or `name:group`, as in a Dockerfile USER. */
  user?: string;
  /** `KEY=value` pairs; defaults to the usual PATH. */
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  /** e.g. `80/tcp`. */
  exposedPorts?: string[];
  labels?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** A blob ready to push: its descriptor and bytes. */
export interface Blob {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface OciImage {
  manifest: Blob;
  config: Blob;
  layers: BuiltLayer[];
}

export interface ImageConfigJson {
  created: string;
  architecture: 'amd64';
  os: 'linux';
  config: {
    User?: string;
    Env: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    Labels?: Record<string, string>;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: { created: string; created_by: string; empty_layer?: boolean }[];
}

export class ImageAssemblyError extends Error {
  override name = 'ImageAssemblyError';
}

/**
 * Assemble an image from its layers (bottom first). `history` names, per layer,
 * how it was made (defaults to `layer N`).
 */
export function assembleImage(layers: readonly BuiltLayer[], settings: RunSettings, history?: readonly string[]): OciImage {
  if (layers.length === 0) throw new ImageAssemblyError('an image needs at least one layer');
  if (history && history.length !== layers.length) {
    throw new ImageAssemblyError(`history has ${history.length} entries for ${layers.length} layers`);
  }
  const config = imageConfig(layers, settings, history);
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(configBytes), size: configBytes.length };
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: configDescriptor,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest: {
      descriptor: { mediaType: MANIFEST_MEDIA_TYPE, digest: sha256(manifestBytes), size: manifestBytes.length },
      bytes: manifestBytes,
    },
    config: { descriptor: configDescriptor, bytes: configBytes },
    layers: [...layers],
  };
}

export function imageConfig(layers: readonly BuiltLayer[], settings: RunSettings, history?: readonly string[]): ImageConfigJson {
  const run: ImageConfigJson['config'] = { Env: settings.env ?? [DEFAULT_PATH] };
  if (settings.user !== undefined) run.User = settings.user;
  if (settings.entrypoint?.length) run.Entrypoint = [...settings.entrypoint];
  if (settings.cmd?.length) run.Cmd = [...settings.cmd];
  if (settings.workingDir !== undefined) run.WorkingDir = settings.workingDir;
  if (settings.exposedPorts?.length) {
    run.ExposedPorts = Object.fromEntries([...settings.exposedPorts].sort().map((p) => [p, {}]));
  }
  if (settings.labels && Object.keys(settings.labels).length) {
    run.Labels = Object.fromEntries(Object.entries(settings.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return {
    created: IMAGE_CREATED,
    architecture: 'amd64',
    os: 'linux',
    config: run,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: IMAGE_CREATED, created_by: history?.[i] ?? `layer ${i + 1}` })),
  };
}
