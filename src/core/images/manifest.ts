/**
 * Parse-and-validate for OCI / Docker schema 2 manifests, indexes and image configs,
 * plus platform selection from an index. Anything malformed is rejected with an
 * InvalidArgumentError that says which field is wrong.
 */
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { MediaType, isIndexType, isManifestType } from './media-types.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

export interface Index {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  created?: string;
  author?: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: HistoryEntry[];
}

export type ManifestOrIndex = { kind: 'manifest'; manifest: Manifest } | { kind: 'index'; index: Index };

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

type Json = Record<string, unknown>;

class Fields {
  constructor(
    private readonly obj: Json,
    readonly where: string,
  ) {}

  fail(field: string, problem: string): never {
    throw new InvalidArgumentError(`${this.where}: ${field} ${problem}`);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  raw(field: string): unknown {
    return this.obj[field];
  }

  string(field: string): string {
    const v = this.obj[field];
    if (typeof v !== 'string') this.fail(field, v === undefined || v === null ? 'is missing' : 'must be a string');
    return v;
  }

  optString(field: string): string | undefined {
    return this.has(field) ? this.string(field) : undefined;
  }

  optBool(field: string): boolean | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (typeof v !== 'boolean') this.fail(field, 'must be true or false');
    return v;
  }

  optStrings(field: string): string[] | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) this.fail(field, 'must be an array of strings');
    return [...(v as string[])];
  }

  optStringMap(field: string): Record<string, string> | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (!isObject(v) || !Object.values(v).every((s) => typeof s === 'string')) {
      this.fail(field, 'must be an object of string values');
    }
    return { ...(v as Record<string, string>) };
  }

  optObjectSet(field: string): Record<string, object> | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (!isObject(v)) this.fail(field, 'must be an object');
    const out: Record<string, object> = {};
    for (const key of Object.keys(v)) out[key] = {};
    return out;
  }

  object(field: string): Fields {
    const v = this.obj[field];
    if (!isObject(v)) this.fail(field, v === undefined || v === null ? 'is missing' : 'must be an object');
    return new Fields(v, `${this.where}.${field}`);
  }

  array(field: string): unknown[] {
    const v = this.obj[field];
    if (!Array.isArray(v)) this.fail(field, v === undefined || v === null ? 'is missing' : 'must be an array');
    return v;
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonObject(body: Buffer | string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new InvalidArgumentError(`${what} must be a JSON object`);
  return value;
}

export function isSha256Digest(text: string): boolean {
  return SHA256_DIGEST.test(text);
}

function parseDescriptorFields(f: Fields): Descriptor {
  const mediaType = f.string('mediaType');
  const digest = f.string('digest');
  if (!isSha256Digest(digest)) f.fail('digest', `${JSON.stringify(digest)} must be sha256:<64 lowercase hex>`);
  const size = f.raw('size');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    f.fail('size', size === undefined ? 'is missing' : 'must be a non-negative integer');
  }
  const d: Descriptor = { mediaType, digest, size };
  const urls = f.optStrings('urls');
  if (urls) d.urls = urls;
  const annotations = f.optStringMap('annotations');
  if (annotations) d.annotations = annotations;
  const artifactType = f.optString('artifactType');
  if (artifactType !== undefined) d.artifactType = artifactType;
  if (f.has('platform')) {
    const p = f.object('platform');
    const platform: Platform = { os: p.string('os'), architecture: p.string('architecture') };
    const variant = p.optString('variant');
    if (variant !== undefined) platform.variant = variant;
    const osVersion = p.optString('os.version');
    if (osVersion !== undefined) platform['os.version'] = osVersion;
    const osFeatures = p.optStrings('os.features');
    if (osFeatures) platform['os.features'] = osFeatures;
    d.platform = platform;
  }
  return d;
}

export function parseDescriptor(value: unknown, where = 'descriptor'): Descriptor {
  if (!isObject(value)) throw new InvalidArgumentError(`${where} must be a JSON object`);
  return parseDescriptorFields(new Fields(value, where));
}

function descriptorList(f: Fields, field: string): Descriptor[] {
  return f.array(field).map((item, i) => parseDescriptor(item, `${f.where}.${field}[${i}]`));
}

function checkSchemaVersion(f: Fields): void {
  const v = f.raw('schemaVersion');
  if (v === 1) f.fail('schemaVersion', 'is 1: Docker schema 1 images are not supported; re-push the image with a current client');
  if (v !== 2) f.fail('schemaVersion', v === undefined ? 'is missing' : `must be 2 (got ${JSON.stringify(v)})`);
}

/** Decide whether a body is a manifest or an index from its declared type, its mediaType field, or its shape. */
export function detectManifestType(body: Buffer | string, declaredMediaType?: string): string {
  const obj = parseJsonObject(body, 'manifest');
  return detectType(obj, declaredMediaType);
}

function detectType(obj: Json, declared?: string): string {
  const declaredBase = declared?.split(';')[0]?.trim();
  if (declaredBase && (isManifestType(declaredBase) || isIndexType(declaredBase))) return declaredBase;
  if (declaredBase === MediaType.dockerSchema1Manifest || declaredBase === MediaType.dockerSchema1SignedManifest) {
    throw new InvalidArgumentError('Docker schema 1 manifests are not supported; re-push the image with a current client');
  }
  const own = obj['mediaType'];
  if (typeof own === 'string' && own !== '') return own;
  if (obj['schemaVersion'] === 1) {
    throw new InvalidArgumentError('Docker schema 1 manifests are not supported; re-push the image with a current client');
  }
  if (Array.isArray(obj['manifests'])) return MediaType.ociIndex;
  if (isObject(obj['config'])) return MediaType.ociManifest;
  throw new InvalidArgumentError('manifest has neither "manifests" nor "config": not an image manifest or index');
}

export function parseManifest(body: Buffer | string, declaredMediaType?: string): Manifest {
  const obj = parseJsonObject(body, 'manifest');
  const f = new Fields(obj, 'manifest');
  checkSchemaVersion(f);
  const own = f.optString('mediaType');
  const mediaType = own ?? detectType(obj, declaredMediaType);
  if (!isManifestType(mediaType)) f.fail('mediaType', `${JSON.stringify(mediaType)} is not an image manifest type`);
  if (declaredMediaType && own && isManifestType(declaredMediaType) && declaredMediaType !== own) {
    f.fail('mediaType', `${JSON.stringify(own)} does not match the declared ${JSON.stringify(declaredMediaType)}`);
  }
  if (f.has('manifests')) f.fail('manifests', 'must not appear in an image manifest (is this an index?)');
  const m: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: parseDescriptor(obj['config'] ?? f.fail('config', 'is missing'), 'manifest.config'),
    layers: descriptorList(f, 'layers'),
  };
  const annotations = f.optStringMap('annotations');
  if (annotations) m.annotations = annotations;
  if (f.has('subject')) m.subject = parseDescriptor(obj['subject'], 'manifest.subject');
  const artifactType = f.optString('artifactType');
  if (artifactType !== undefined) m.artifactType = artifactType;
  return m;
}

export function parseIndex(body: Buffer | string, declaredMediaType?: string): Index {
  const obj = parseJsonObject(body, 'index');
  const f = new Fields(obj, 'index');
  checkSchemaVersion(f);
  const own = f.optString('mediaType');
  const mediaType = own ?? detectType(obj, declaredMediaType);
  if (!isIndexType(mediaType)) f.fail('mediaType', `${JSON.stringify(mediaType)} is not an image index type`);
  const idx: Index = { schemaVersion: 2, mediaType, manifests: descriptorList(f, 'manifests') };
  const annotations = f.optStringMap('annotations');
  if (annotations) idx.annotations = annotations;
  if (f.has('subject')) idx.subject = parseDescriptor(obj['subject'], 'index.subject');
  const artifactType = f.optString('artifactType');
  if (artifactType !== undefined) idx.artifactType = artifactType;
  return idx;
}

export function parseManifestOrIndex(body: Buffer | string, declaredMediaType?: string): ManifestOrIndex {
  const type = detectType(parseJsonObject(body, 'manifest'), declaredMediaType);
  if (isIndexType(type)) return { kind: 'index', index: parseIndex(body, type) };
  if (isManifestType(type)) return { kind: 'manifest', manifest: parseManifest(body, type) };
  throw new InvalidArgumentError(`unsupported manifest media type ${JSON.stringify(type)}`);
}

export function parseImageConfig(body: Buffer | string): ImageConfig {
  const obj = parseJsonObject(body, 'image config');
  const f: Fields = new Fields(obj, 'image config');
  const cfg: ImageConfig = {
    architecture: f.string('architecture'),
    os: f.string('os'),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  const variant = f.optString('variant');
  if (variant !== undefined) cfg.variant = variant;
  const osVersion = f.optString('os.version');
  if (osVersion !== undefined) cfg['os.version'] = osVersion;
  const created = f.optString('created');
  if (created !== undefined) cfg.created = created;
  const author = f.optString('author');
  if (author !== undefined) cfg.author = author;

  const rootfs: Fields = f.object('rootfs');
  if (rootfs.string('type') !== 'layers') rootfs.fail('type', 'must be "layers"');
  cfg.rootfs.diff_ids = rootfs.array('diff_ids').map((d, i) => {
    if (typeof d !== 'string' || !isSha256Digest(d)) rootfs.fail(`diff_ids[${i}]`, 'must be sha256:<64 lowercase hex>');
    return d;
  });

  if (f.has('config')) {
    const c = f.object('config');
    const out: ContainerConfig = {};
    const set = <K extends keyof ContainerConfig>(key: K, value: ContainerConfig[K] | undefined): void => {
      if (value !== undefined) out[key] = value;
    };
    set('User', c.optString('User'));
    set('Env', c.optStrings('Env'));
    set('Entrypoint', c.optStrings('Entrypoint'));
    set('Cmd', c.optStrings('Cmd'));
    set('WorkingDir', c.optString('WorkingDir'));
    set('Labels', c.optStringMap('Labels'));
    set('StopSignal', c.optString('StopSignal'));
    set('ExposedPorts', c.optObjectSet('ExposedPorts'));
    set('Volumes', c.optObjectSet('Volumes'));
    set('ArgsEscaped', c.optBool('ArgsEscaped'));
    cfg.config = out;
  }

  if (f.has('history')) {
    cfg.history = f.array('history').map((h, i) => {
      if (!isObject(h)) f.fail(`history[${i}]`, 'must be an object');
      const hf = new Fields(h, `image config.history[${i}]`);
      const entry: HistoryEntry = {};
      const put = <K extends keyof HistoryEntry>(key: K, value: HistoryEntry[K] | undefined): void => {
        if (value !== undefined) entry[key] = value;
      };
      put('created', hf.optString('created'));
      put('created_by', hf.optString('created_by'));
      put('author', hf.optString('author'));
      put('comment', hf.optString('comment'));
      put('empty_layer', hf.optBool('empty_layer'));
      return entry;
    });
  }
  return cfg;
}

// ---------------------------------------------------------------------------
// Platform selection

const ARCH_ALIASES: Record<string, [string, string | undefined]> = {
  x86_64: ['amd64', undefined],
  'x86-64': ['amd64', undefined],
  aarch64: ['arm64', undefined],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
  i386: ['386', undefined],
  i686: ['386', undefined],
};

/** Lower-case, resolve aliases and fill in the default variant (amd64 v1, arm64 v8, arm v7). */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  const alias = ARCH_ALIASES[architecture];
  if (alias) {
    architecture = alias[0];
    variant = variant ?? alias[1];
  }
  if (architecture === 'amd64' && variant === undefined) variant = 'v1';
  if (architecture === 'arm64' && (variant === undefined || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'arm' && /^[5-8]$/.test(variant ?? '')) variant = `v${variant}`;
  const out: Platform = { os, architecture };
  if (variant !== undefined) out.variant = variant;
  return out;
}

/** The variants a host of `want` can run, best first (newer CPUs run older variants). */
function acceptableVariants(want: Platform): (string | undefined)[] {
  const v = want.variant;
  const version = v && /^v(\d+)$/.exec(v);
  if (version && (want.architecture === 'arm' || want.architecture === 'amd64' || want.architecture === 'arm64')) {
    const n = Number(version[1]);
    const floor = want.architecture === 'arm' ? 5 : want.architecture === 'arm64' ? 8 : 1;
    const out: string[] = [];
    for (let i = n; i >= floor; i--) out.push(`v${i}`);
    return out;
  }
  return [v];
}

/** How well `candidate` fits `want`: 0 is exact, higher is a compatible fallback, -1 is no match. */
export function platformRank(candidate: Platform, want: Platform): number {
  const c = normalizePlatform(candidate);
  const w = normalizePlatform(want);
  if (c.os !== w.os || c.architecture !== w.architecture) return -1;
  return acceptableVariants(w).indexOf(c.variant);
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s).join('/');
}

/**
 * The index entry to run on `want`: exact variant first, then older compatible
 * variants; among equals, index order. Throws NotFoundError listing what exists.
 */
export function selectPlatform(index: Index, want: Platform): Descriptor {
  let best: Descriptor | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const d of index.manifests) {
    if (!d.platform || !isManifestType(d.mediaType)) continue;
    const rank = platformRank(d.platform, want);
    if (rank >= 0 && rank < bestRank) {
      best = d;
      bestRank = rank;
    }
  }
  if (best) return best;
  const available = index.manifests
    .filter((d) => d.platform && isManifestType(d.mediaType))
    .map((d) => formatPlatform(d.platform as Platform))
    .join(', ');
  const nested = index.manifests.some((d) => !isManifestType(d.mediaType)) ? '; entries that are indexes themselves are not followed' : '';
  throw new NotFoundError(
    `no image for platform ${formatPlatform(want)} in the index (available: ${available || 'none with a platform'})${nested}`,
  );
}
