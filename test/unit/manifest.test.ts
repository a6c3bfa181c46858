import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import {
  type Index,
  type Platform,
  detectManifestType,
  normalizePlatform,
  parseImageConfig,
  parseIndex,
  parseManifest,
  parseManifestOrIndex,
  selectPlatform,
} from '../../src/core/images/manifest.js';
import { MediaType, isLayerType, layerCompression } from '../../src/core/images/media-types.js';

const dg = (c: string): string => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, size = 10): { mediaType: string; digest: string; size: number } => ({
  mediaType,
  digest: dg(c),
  size,
});

const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: desc(MediaType.ociConfig, 'c'),
  layers: [desc(MediaType.ociLayerGzip, '1'), { ...desc(MediaType.ociLayer, '2'), annotations: { a: 'b' } }],
  annotations: { 'org.opencontainers.image.title': 't' },
};

const json = (v: unknown): string => JSON.stringify(v);
const without = (obj: Record<string, unknown>, key: string): Record<string, unknown> => {
  const copy = { ...obj };
  delete copy[key];
  return copy;
};

function rejects(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    assert.match(err.message, reason);
    return true;
  });
}

describe('parseManifest', () => {
  it('parses an OCI manifest', () => {
    const m = parseManifest(Buffer.from(json(manifest)));
    assert.equal(m.mediaType, MediaType.ociManifest);
    assert.equal(m.config.digest, dg('c'));
    assert.equal(m.layers.length, 2);
    assert.deepEqual(m.layers[1]?.annotations, { a: 'b' });
    assert.equal(m.annotations?.['org.opencontainers.image.title'], 't');
  });

  it('takes the media type from the declared Content-Type when the body has none', () => {
    const m = parseManifest(json(without(manifest, 'mediaType')), MediaType.dockerManifest);
    assert.equal(m.mediaType, MediaType.dockerManifest);
    assert.equal(parseManifest(json(without(manifest, 'mediaType'))).mediaType, MediaType.ociManifest);
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{nope', /not valid JSON/],
    ['an array', '[]', /JSON object/],
    ['schema 1', json({ schemaVersion: 1, name: 'x', fsLayers: [] }), /schema 1/],
    ['schemaVersion 3', json({ ...manifest, schemaVersion: 3 }), /schemaVersion must be 2/],
    ['no config', json(without(manifest, 'config')), /config is missing/],
    ['no layers', json(without(manifest, 'layers')), /layers is missing/],
    ['an index media type', json({ ...manifest, mediaType: MediaType.ociIndex }), /not an image manifest type/],
    ['non-sha256 digest', json({ ...manifest, config: { ...manifest.config, digest: `sha512:${'a'.repeat(128)}` } }), /config: digest .* sha256/],
    ['short digest', json({ ...manifest, layers: [{ ...desc(MediaType.ociLayer, '1'), digest: 'sha256:abc' }] }), /layers\[0\]: digest/],
    ['negative size', json({ ...manifest, layers: [{ ...desc(MediaType.ociLayer, '1'), size: -1 }] }), /size must be a non-negative integer/],
    ['fractional size', json({ ...manifest, layers: [{ ...desc(MediaType.ociLayer, '1'), size: 1.5 }] }), /size/],
    ['missing size', json({ ...manifest, config: without(manifest.config, 'size') }), /size is missing/],
    ['missing mediaType in descriptor', json({ ...manifest, config: without(manifest.config, 'mediaType') }), /mediaType is missing/],
    ['bad annotations', json({ ...manifest, annotations: { a: 1 } }), /annotations must be an object of string values/],
    ['manifests field', json({ ...manifest, manifests: [] }), /manifests must not appear/],
  ];
  for (const [name, body, reason] of bad) {
    it(`rejects ${name}`, () => rejects(() => parseManifest(body), reason));
  }
});

const index: Index = {
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [
    { ...desc(MediaType.ociManifest, '1'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { ...desc(MediaType.ociManifest, '2'), platform: { os: 'linux', architecture: 'amd64' } },
    { ...desc(MediaType.ociManifest, '3'), platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' } },
    { ...desc(MediaType.ociManifest, '4'), platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { ...desc(MediaType.ociManifest, '5'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { ...desc(MediaType.ociManifest, '6'), platform: { os: 'unknown', architecture: 'unknown' } },
  ],
};

describe('parseIndex', () => {
  it('parses platforms', () => {
    const idx = parseIndex(json(index));
    assert.equal(idx.manifests.length, 6);
    assert.deepEqual(idx.manifests[2]?.platform, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' });
  });
  it('rejects a platform without architecture', () => {
    rejects(
      () => parseIndex(json({ ...index, manifests: [{ ...desc(MediaType.ociManifest, '1'), platform: { os: 'linux' } }] })),
      /manifests\[0\]\.platform: architecture is missing/,
    );
  });
  it('rejects a manifest as an index', () => rejects(() => parseIndex(json(manifest)), /not an image index type/));
  it('rejects missing manifests', () => rejects(() => parseIndex(json({ schemaVersion: 2, mediaType: MediaType.ociIndex })), /manifests is missing/));
});

describe('parseManifestOrIndex / detectManifestType', () => {
  it('tells them apart by declared type, body mediaType or shape', () => {
    assert.equal(parseManifestOrIndex(json(index)).kind, 'index');
    assert.equal(parseManifestOrIndex(json(manifest)).kind, 'manifest');
    assert.equal(detectManifestType(json(without(index as unknown as Record<string, unknown>, 'mediaType'))), MediaType.ociIndex);
    assert.equal(detectManifestType(json(manifest), `${MediaType.dockerManifest}; charset=utf-8`), MediaType.dockerManifest);
    assert.equal(detectManifestType(json(manifest), 'application/json'), MediaType.ociManifest);
    rejects(() => detectManifestType(json({ schemaVersion: 2 })), /neither/);
    rejects(() => detectManifestType('{}', MediaType.dockerSchema1SignedManifest), /schema 1/);
  });
});

describe('selectPlatform', () => {
  const pick = (want: Platform): string | undefined => {
    try {
      return selectPlatform(index, want).digest;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  };
  const cases: [Platform, string | undefined][] = [
    [{ os: 'linux', architecture: 'amd64' }, dg('2')],
    [{ os: 'Linux', architecture: 'x86_64' }, dg('2')],
    [{ os: 'linux', architecture: 'amd64', variant: 'v3' }, dg('2')],
    [{ os: 'linux', architecture: 'arm64' }, dg('1')],
    [{ os: 'linux', architecture: 'aarch64' }, dg('1')],
    [{ os: 'linux', architecture: 'arm' }, dg('5')],
    [{ os: 'linux', architecture: 'arm', variant: 'v6' }, dg('4')],
    [{ os: 'linux', architecture: 'arm', variant: 'v8' }, dg('5')],
    [{ os: 'linux', architecture: 'arm', variant: 'v5' }, undefined],
    [{ os: 'linux', architecture: 's390x' }, undefined],
    [{ os: 'windows', architecture: 'amd64' }, dg('3')],
  ];
  for (const [want, expected] of cases) {
    it(`${want.os}/${want.architecture}${want.variant ? '/' + want.variant : ''} -> ${expected ? expected.slice(7, 8) : 'none'}`, () => {
      assert.equal(pick(want), expected);
    });
  }

  it('prefers the exact variant over an older compatible one regardless of order', () => {
    const idx: Index = {
      ...index,
      manifests: [
        { ...desc(MediaType.ociManifest, '7'), platform: { os: 'linux', architecture: 'amd64' } },
        { ...desc(MediaType.ociManifest, '8'), platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
      ],
    };
    assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64', variant: 'v3' }).digest, dg('8'));
    assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64', variant: 'v2' }).digest, dg('7'));
    assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64' }).digest, dg('7'));
  });

  it('names the available platforms when nothing matches', () => {
    assert.throws(() => selectPlatform(index, { os: 'linux', architecture: 'riscv64' }), /linux\/riscv64.*available: linux\/arm64\/v8, linux\/amd64/);
  });

  it('normalizes aliases and default variants', () => {
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armhf' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64' }), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
});

describe('parseImageConfig', () => {
  const config = {
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: '1000:1000',
      Env: ['PATH=/bin'],
      Entrypoint: ['/bin/sh'],
      Cmd: null,
      WorkingDir: '/w',
      Labels: { a: 'b' },
      StopSignal: 'SIGTERM',
      ExposedPorts: { '80/tcp': {} },
      Volumes: { '/data': {} },
      Hostname: 'ignored',
    },
    rootfs: { type: 'layers', diff_ids: [dg('d'), dg('e')] },
    history: [{ created_by: 'ADD x', empty_layer: false }, { created_by: 'ENV y', empty_layer: true }],
  };
  it('parses the fields the runtime needs', () => {
    const c = parseImageConfig(json(config));
    assert.equal(c.architecture, 'amd64');
    assert.equal(c.os, 'linux');
    assert.equal(c.created, '2024-01-01T00:00:00Z');
    assert.deepEqual(c.config, {
      User: '1000:1000',
      Env: ['PATH=/bin'],
      Entrypoint: ['/bin/sh'],
      WorkingDir: '/w',
      Labels: { a: 'b' },
      StopSignal: 'SIGTERM',
      ExposedPorts: { '80/tcp': {} },
      Volumes: { '/data': {} },
    });
    assert.deepEqual(c.rootfs.diff_ids, [dg('d'), dg('e')]);
    assert.equal(c.history.length, 2);
    assert.equal(c.history[1]?.empty_layer, true);
  });
  it('accepts a config without the container config section', () => {
    const c = parseImageConfig(json(without(config, 'config')));
    assert.deepEqual(c.config, {});
    assert.deepEqual(c.history.length, 2);
  });
  const bad: [string, unknown, RegExp][] = [
    ['missing os', without(config, 'os'), /os is missing/],
    ['missing rootfs', without(config, 'rootfs'), /rootfs is missing/],
    ['bad rootfs type', { ...config, rootfs: { type: 'x', diff_ids: [] } }, /type must be "layers"/],
    ['bad diff id', { ...config, rootfs: { type: 'layers', diff_ids: ['md5:x'] } }, /diff_ids\[0\]/],
    ['Env not strings', { ...config, config: { Env: [1] } }, /Env must be an array of strings/],
    ['Cmd a string', { ...config, config: { Cmd: 'sh' } }, /Cmd must be an array of strings/],
  ];
  for (const [name, body, reason] of bad) {
    it(`rejects ${name}`, () => rejects(() => parseImageConfig(json(body)), reason));
  }
});

describe('media types', () => {
  it('classifies layers by compression', () => {
    assert.equal(layerCompression(MediaType.ociLayerZstd), 'zstd');
    assert.equal(layerCompression(MediaType.dockerLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.dockerForeignLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.ociLayer), 'none');
    assert.equal(isLayerType(MediaType.ociConfig), false);
  });
});
