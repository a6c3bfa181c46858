import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { CRITEST_IMAGES, mirrorLocation, selectImages } from '../critest/images/catalog.js';
import { CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, assembleImage, type ImageConfigJson } from '../critest/images/image.js';
import { LAYER_MEDIA_TYPE, buildLayer, buildTar, normalisePath, type LayerEntry } from '../critest/images/layer.js';

interface TarEntry {
  header: Header;
  body: Buffer;
}

async function readTar(tar: Buffer): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        entries.push({ header, body: Buffer.concat(chunks) });
        next();
      });
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return entries;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const SAMPLE: LayerEntry[] = [
  { type: 'file', path: '/bin/busybox', content: Buffer.from('#!fake busybox\n'), mode: 0o755 },
  { type: 'hardlink', path: '/bin/[', target: '/bin/busybox' },
  { type: 'hardlink', path: 'bin/ls', target: 'bin/busybox' },
  { type: 'symlink', path: 'usr/bin/env', target: '/bin/busybox' },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
  { type: 'file', path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
  { type: 'file', path: 'usr/local/bin/nnp', content: 'x', mode: 0o4755, uid: 0, gid: 0 },
  { type: 'file', path: 'home/user/.profile', content: '', uid: 1000, gid: 1000 },
];

describe('layer builder', () => {
  it('gives the same digests for the same inputs, whatever their order', async () => {
    const a = await buildLayer(SAMPLE);
    const b = await buildLayer([...SAMPLE].reverse());
    assert.equal(a.digest, b.digest);
    assert.equal(a.diffId, b.diffId);
    assert.equal(a.size, b.size);
    assert.equal(a.mediaType, LAYER_MEDIA_TYPE);
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('gives different digests when any content changes', async () => {
    const a = await buildLayer(SAMPLE);
    const changed = SAMPLE.map((e) => (e.path === 'etc/passwd' && e.type === 'file' ? { ...e, content: 'root:x:0:0::/:/bin/sh\n' } : e));
    const b = await buildLayer(changed);
    assert.notEqual(a.diffId, b.diffId);
    assert.notEqual(a.digest, b.digest);
  });

  it('reports the diff_id as the sha256 of the uncompressed tar and the digest as that of the gzip', async () => {
    const layer = await buildLayer(SAMPLE);
    assert.equal(layer.digest, sha256(layer.compressed));
    assert.equal(layer.size, layer.compressed.length);
    const tar = gunzipSync(layer.compressed);
    assert.equal(layer.diffId, sha256(tar));
    assert.deepEqual(tar, await buildTar(SAMPLE));
  });

  it('writes hard links as link entries after their target, even when they sort before it', async () => {
    const entries = await readTar(await buildTar(SAMPLE));
    const names = entries.map((e) => e.header.name);
    const target = names.indexOf('bin/busybox');
    for (const link of ['bin/[', 'bin/ls']) {
      const entry = entries.find((e) => e.header.name === link);
      assert.ok(entry, `${link} is in the tar`);
      assert.equal(entry.header.type, 'link');
      assert.equal(entry.header.linkname, 'bin/busybox');
      assert.equal(entry.body.length, 0);
      assert.ok(names.indexOf(link) > target, `${link} comes after its target`);
    }
    const busybox = entries[target];
    assert.equal(busybox?.header.type, 'file');
    assert.equal(busybox?.body.toString(), '#!fake busybox\n');
  });

  it('keeps modes, owners, symlinks, fixed mtimes and adds missing parent directories', async () => {
    const entries = await readTar(await buildTar(SAMPLE));
    const byName = new Map(entries.map((e) => [e.header.name, e.header]));
    assert.equal(byName.get('usr/local/bin/nnp')?.mode, 0o4755);
    assert.equal(byName.get('tmp')?.mode, 0o1777);
    assert.equal(byName.get('tmp')?.type, 'directory');
    assert.equal(byName.get('home/user/.profile')?.uid, 1000);
    assert.equal(byName.get('etc/passwd')?.mode, 0o644);
    // A hard link header carries its file's mode (containerd applies it to the shared inode).
    assert.equal(byName.get('bin/ls')?.type, 'link');
    assert.equal(byName.get('bin/ls')?.mode, 0o755);
    assert.equal(byName.get('usr/bin/env')?.type, 'symlink');
    assert.equal(byName.get('usr/bin/env')?.linkname, '/bin/busybox');
    for (const parent of ['bin', 'etc', 'usr', 'usr/bin', 'usr/local', 'usr/local/bin', 'home', 'home/user']) {
      assert.equal(byName.get(parent)?.type, 'directory', `${parent} was added`);
      assert.ok(names(entries).indexOf(parent) < names(entries).findIndex((n) => n.startsWith(`${parent}/`)), `${parent} precedes its children`);
    }
    for (const e of entries) assert.equal(e.header.mtime?.getTime(), 0, `${e.header.name} has the fixed mtime`);
  });

  it('refuses hard links to missing targets, duplicate paths and paths escaping the root', async () => {
    await assert.rejects(buildTar([{ type: 'hardlink', path: 'bin/ls', target: 'bin/busybox' }]), /not a regular file of this layer/);
    await assert.rejects(
      buildTar([
        { type: 'file', path: 'a', content: '1' },
        { type: 'file', path: '/a', content: '2' },
      ]),
      /listed twice/,
    );
    assert.throws(() => normalisePath('../etc/passwd'), /below the root/);
    assert.throws(() => normalisePath('/'), /below the root/);
    assert.equal(normalisePath('./usr//bin/'), 'usr/bin');
  });

  describe('host files', () => {
    let dir = '';
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'image-builder-unit-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads content and mode from the host file unless a mode is given', async () => {
      const source = join(dir, 'tool');
      await writeFile(source, 'tool bytes');
      await chmod(source, 0o750);
      const entries = await readTar(
        await buildTar([
          { type: 'hostfile', path: 'usr/bin/tool', source },
          { type: 'hostfile', path: 'usr/bin/tool-suid', source, mode: 0o4755 },
        ]),
      );
      const tool = entries.find((e) => e.header.name === 'usr/bin/tool');
      assert.equal(tool?.body.toString(), 'tool bytes');
      assert.equal(tool?.header.mode, 0o750);
      assert.equal(entries.find((e) => e.header.name === 'usr/bin/tool-suid')?.header.mode, 0o4755);
      await assert.rejects(buildTar([{ type: 'hostfile', path: 'x', source: join(dir, 'missing') }]), /cannot read host file/);
    });
  });
});

function names(entries: readonly TarEntry[]): string[] {
  return entries.map((e) => e.header.name);
}

describe('image assembly', () => {
  it('writes an OCI config and manifest naming the layers in order', async () => {
    const base = await buildLayer(SAMPLE);
    const top = await buildLayer([{ type: 'file', path: 'marker', content: 'm' }]);
    const image = assembleImage([base, top], {
      user: 'www-data:www-data',
      entrypoint: ['/usr/sbin/nginx'],
      cmd: ['--port', '80'],
      workingDir: '/var/www',
      exposedPorts: ['80/tcp'],
    });
    const config = JSON.parse(image.config.bytes.toString()) as ImageConfigJson;
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.os, 'linux');
    assert.equal(config.config.User, 'www-data:www-data');
    assert.deepEqual(config.config.Entrypoint, ['/usr/sbin/nginx']);
    assert.deepEqual(config.config.Cmd, ['--port', '80']);
    assert.equal(config.config.WorkingDir, '/var/www');
    assert.deepEqual(config.config.ExposedPorts, { '80/tcp': {} });
    assert.ok(config.config.Env.some((e) => e.startsWith('PATH=') && e.includes('/bin')));
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [base.diffId, top.diffId] });
    assert.equal(config.history.length, 2);

    const manifest = JSON.parse(image.manifest.bytes.toString()) as {
      schemaVersion: number;
      mediaType: string;
      config: { mediaType: string; digest: string; size: number };
      layers: { mediaType: string; digest: string; size: number }[];
    };
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, MANIFEST_MEDIA_TYPE);
    assert.deepEqual(manifest.config, { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(image.config.bytes), size: image.config.bytes.length });
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      [base.digest, top.digest],
    );
    assert.equal(image.manifest.descriptor.digest, sha256(image.manifest.bytes));

    const again = assembleImage([base, top], {
      user: 'www-data:www-data',
      entrypoint: ['/usr/sbin/nginx'],
      cmd: ['--port', '80'],
      workingDir: '/var/www',
      exposedPorts: ['80/tcp'],
    });
    assert.equal(again.manifest.descriptor.digest, image.manifest.descriptor.digest);
    const otherUser = assembleImage([base, top], { user: '1002' });
    assert.notEqual(otherUser.config.descriptor.digest, image.config.descriptor.digest);
  });

  it('refuses an image without layers', () => {
    assert.throws(() => assembleImage([], {}), /at least one layer/);
  });
});

describe('critest image catalog', () => {
  it('maps upstream references to mirror repositories the way the mirror serves them', () => {
    assert.deepEqual(mirrorLocation('gcr.io/k8s-staging-cri-tools/test-image-1'), { repoPath: 'k8s-staging-cri-tools/test-image-1', tag: 'latest' });
    assert.deepEqual(mirrorLocation('registry.k8s.io/e2e-test-images/busybox:1.29-2'), { repoPath: 'e2e-test-images/busybox', tag: '1.29-2' });
    assert.deepEqual(mirrorLocation('registry.k8s.io/pause:3.10'), { repoPath: 'pause', tag: '3.10' });
    assert.deepEqual(mirrorLocation('k8s.gcr.io/pause:3.9'), { repoPath: 'pause', tag: '3.9' });
    assert.deepEqual(mirrorLocation('busybox'), { repoPath: 'library/busybox', tag: 'latest' });
    assert.deepEqual(mirrorLocation('docker.io/library/nginx:1.25'), { repoPath: 'library/nginx', tag: '1.25' });
    assert.throws(() => mirrorLocation(`gcr.io/x/y@sha256:${'a'.repeat(64)}`), /digest/);
  });

  it('lists every reference critest pulls, each exactly once', () => {
    const references = CRITEST_IMAGES.flatMap((i) => i.references);
    assert.equal(new Set(references).size, references.length);
    const staging = 'gcr.io/k8s-staging-cri-tools/';
    for (const ref of [
      'registry.k8s.io/e2e-test-images/busybox:1.29-2',
      'registry.k8s.io/e2e-test-images/nginx:1.14-2',
      'registry.k8s.io/e2e-test-images/httpd:2.4.39-4',
      'registry.k8s.io/e2e-test-images/nonewprivs:1.3',
      'registry.k8s.io/pause:3.9',
      'registry.k8s.io/pause:3.10',
      'k8s.gcr.io/pause:3.9',
      `${staging}hostnet-nginx-amd64:latest`,
      `${staging}test-image-latest:latest`,
      `${staging}test-image-tag:test`,
      `${staging}test-image-tag:all`,
      `${staging}test-image-1:latest`,
      `${staging}test-image-2:latest`,
      `${staging}test-image-3:latest`,
      `${staging}test-image-tags:1`,
      `${staging}test-image-tags:2`,
      `${staging}test-image-tags:3`,
      `${staging}test-image-user-uid:latest`,
      `${staging}test-image-user-username:latest`,
      `${staging}test-image-user-uid-group:latest`,
      `${staging}test-image-user-username-group:latest`,
      `${staging}test-image-predefined-group:latest`,
    ]) {
      assert.ok(references.includes(ref), `${ref} is in the catalog`);
    }
    // pause 3.9 and 3.10 are different images (the sandbox image must not be a third tag of 3.9).
    const pauseEntry = (ref: string) => CRITEST_IMAGES.find((i) => i.references.includes(ref))?.name;
    assert.notEqual(pauseEntry('registry.k8s.io/pause:3.9'), pauseEntry('registry.k8s.io/pause:3.10'));
    assert.equal(pauseEntry('registry.k8s.io/pause:3.9'), pauseEntry('k8s.gcr.io/pause:3.9'));
    // The three tags of test-image-tags are one catalog entry, so one digest.
    assert.equal(CRITEST_IMAGES.filter((i) => i.references.some((r) => r.includes('/test-image-tags:'))).length, 1);
  });

  it('selects images by name and rejects unknown names', () => {
    assert.equal(selectImages([]).length, CRITEST_IMAGES.length);
    assert.deepEqual(
      selectImages(['pause', 'busybox']).map((i) => i.name),
      ['pause', 'busybox'],
    );
    assert.throws(() => selectImages(['nope']), /unknown image "nope"/);
  });
});
