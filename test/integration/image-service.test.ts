import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startDaemon, type TestDaemon } from '../support/daemon.js';
import { crictl } from '../support/exec.js';
import { writeMirrorConfig } from '../support/mirror.js';
import { buildImage, buildLayer, pushImage, pushIndex, type BuiltImage } from '../support/oci-image.js';
import { startProxy, type TestProxy } from '../support/proxy.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

async function countFiles(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    n += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return n;
}

describe('ImageService against a real registry through a mirror', () => {
  let registry: TestRegistry;
  let deadMirror: TestProxy;
  let daemon: TestDaemon;
  let certsDir: string;
  let base: BuiltImage;
  let outside: string;

  before(async () => {
    registry = await startRegistry();
    // A mirror listed first that refuses every request: pulls must fall back to the next host.
    deadMirror = await startProxy(registry.url, (_req, res) => {
      res.writeHead(503).end('mirror down');
      return true;
    });
    certsDir = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    outside = await mkdtemp(join(tmpdir(), 'berth-outside-'));
    await writeMirrorConfig(certsDir, ['docker.io', 'registry.k8s.io'], [deadMirror.url, registry.url]);
    daemon = await startDaemon({ configToml: `[registry]\nconfig_path = "${certsDir}"\n` });

    base = buildImage(
      [
        await buildLayer([
          { type: 'directory', name: 'etc' },
          { type: 'file', name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\n' },
          { type: 'file', name: 'etc/base.txt', content: 'base layer' },
        ], 'gzip'),
        await buildLayer([{ type: 'file', name: 'etc/plain.txt', content: 'uncompressed layer' }], 'none'),
        await buildLayer([{ type: 'file', name: 'etc/zstd.txt', content: 'zstd layer' }, { type: 'file', name: 'etc/.wh.base.txt', content: '' }], 'zstd'),
      ],
      { user: 'www-data' },
    );
    await pushImage(registry.host, 'library/berth-test', '1.0', base);
  });

  after(async () => {
    await daemon?.stop();
    await daemon?.cleanup();
    await deadMirror?.close();
    await registry?.stop();
    await rm(certsDir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('crictl pull by familiar tag (gzip, plain and zstd layers) through the mirror', async () => {
    const res = await crictl(daemon.dirs.socket, ['pull', 'berth-test:1.0']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(base.config.digest));
    assert.ok(deadMirror.requests.length > 0, 'the first mirror was tried');
  });

  it('lists the image with its tag, repo digest, size and user', async () => {
    const { images } = await daemon.cri.image.ListImages({});
    const img = images.find((i) => i.id === base.config.digest);
    assert.ok(img, JSON.stringify(images));
    assert.deepEqual(img.repo_tags, ['docker.io/library/berth-test:1.0']);
    assert.deepEqual(img.repo_digests, [`docker.io/library/berth-test@${base.manifest.digest}`]);
    assert.equal(img.username, 'www-data');
    const expectedSize = base.manifest.size + base.config.size + base.layers.reduce((n, l) => n + l.size, 0);
    assert.equal(Number(img.size), expectedSize);
    const cli = await crictl(daemon.dirs.socket, ['images']);
    assert.match(cli.stdout, /docker.io\/library\/berth-test\s+1.0/);
  });

  it('unpacks the layers into snapshots with whiteouts applied', async () => {
    const status = await daemon.cri.image.ImageStatus({ image: { image: 'berth-test:1.0' }, verbose: true });
    const info = JSON.parse(status.info.info!) as { chainID: string };
    assert.match(info.chainID, /^sha256:[a-f0-9]{64}$/);
    // The top snapshot holds the zstd file and a whiteout (char device 0/0) for base.txt.
    const snapshotsRoot = join(daemon.dirs.root, 'snapshots');
    const found: string[] = [];
    for (const id of await readdir(snapshotsRoot)) {
      if (existsSync(join(snapshotsRoot, id, 'fs', 'etc', 'zstd.txt'))) found.push(id);
    }
    assert.equal(found.length, 1);
    assert.equal(await readFile(join(snapshotsRoot, found[0]!, 'fs', 'etc', 'zstd.txt'), 'utf8'), 'zstd layer');
    const { lstat } = await import('node:fs/promises');
    const whiteout = await lstat(join(snapshotsRoot, found[0]!, 'fs', 'etc', 'base.txt'));
    assert.ok(whiteout.isCharacterDevice());
    assert.equal(whiteout.rdev, 0);
  });

  it('finds the image by id, id prefix, full name and repo digest', async () => {
    for (const name of [base.config.digest, base.config.digest.slice(7, 19), 'docker.io/library/berth-test:1.0', `berth-test@${base.manifest.digest}`]) {
      const status = await daemon.cri.image.ImageStatus({ image: { image: name } });
      assert.equal(status.image?.id, base.config.digest, name);
    }
    const missing = await daemon.cri.image.ImageStatus({ image: { image: 'berth-test:nope' } });
    assert.equal(missing.image, null);
    const inspect = await crictl(daemon.dirs.socket, ['inspecti', 'berth-test:1.0']);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /"username": "www-data"/);
  });

  it('pulls by digest', async () => {
    const res = await crictl(daemon.dirs.socket, ['pull', `docker.io/library/berth-test@${base.manifest.digest}`]);
    assert.equal(res.code, 0, res.stderr);
  });

  it('selects linux/amd64 from a multi-platform index', async () => {
    const amd64 = buildImage([await buildLayer([{ type: 'file', name: 'arch', content: 'amd64' }])]);
    const arm64 = buildImage([await buildLayer([{ type: 'file', name: 'arch', content: 'arm64' }])], { architecture: 'arm64' });
    await pushIndex(registry.host, 'library/multi', 'v1', [
      { image: arm64, architecture: 'arm64' },
      { image: amd64, architecture: 'amd64' },
    ]);
    const res = await daemon.cri.image.PullImage({ image: { image: 'multi:v1' } });
    assert.equal(res.image_ref, amd64.config.digest);
  });

  it('ten concurrent pulls of one image fetch each blob once', async () => {
    const counting = await startProxy(registry.url);
    const countingCerts = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    await writeMirrorConfig(countingCerts, ['docker.io'], [counting.url]);
    const other = await startDaemon({ configToml: `[registry]\nconfig_path = "${countingCerts}"\n` });
    try {
      const results = await Promise.all(Array.from({ length: 10 }, () => other.cri.image.PullImage({ image: { image: 'berth-test:1.0' } })));
      assert.ok(results.every((r) => r.image_ref === base.config.digest));
      for (const blob of [base.config, ...base.layers]) {
        const gets = counting.requests.filter((r) => r.method === 'GET' && r.url.endsWith(`/blobs/${blob.digest}`));
        assert.equal(gets.length, 1, `${blob.digest} fetched ${gets.length} times`);
      }
    } finally {
      await other.stop();
      await other.cleanup();
      await counting.close();
      await rm(countingCerts, { recursive: true, force: true });
    }
  });

  it('a registry serving a blob with the wrong digest fails the pull, naming it, and stores nothing', async () => {
    const img = buildImage([await buildLayer([{ type: 'file', name: 'victim', content: 'real content' }])]);
    await pushImage(registry.host, 'library/tampered', '1', img);
    const layer = img.layers[0]!;
    const liar = await startProxy(registry.url, (req, res) => {
      if (req.url?.endsWith(`/blobs/${layer.digest}`)) {
        const fake = Buffer.alloc(layer.size, 7);
        res.writeHead(200, { 'content-length': String(fake.length), 'content-type': 'application/octet-stream' });
        res.end(fake);
        return true;
      }
    });
    const liarCerts = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    await writeMirrorConfig(liarCerts, ['docker.io'], [liar.url]);
    const other = await startDaemon({ configToml: `[registry]\nconfig_path = "${liarCerts}"\n` });
    try {
      await assert.rejects(other.cri.image.PullImage({ image: { image: 'tampered:1' } }), (err: Error) => {
        assert.match(err.message, new RegExp(layer.digest.slice(7)));
        return true;
      });
      const { images } = await other.cri.image.ListImages({});
      assert.equal(images.length, 0);
      assert.equal(existsSync(join(other.dirs.root, 'content', 'blobs', 'sha256', layer.digest.slice(7))), false);
    } finally {
      await other.stop();
      await other.cleanup();
      await liar.close();
      await rm(liarCerts, { recursive: true, force: true });
    }
  });

  it('hostile layers fail the pull and leave the host untouched', async () => {
    const hostile: [string, Parameters<typeof buildLayer>[0]][] = [
      ['dotdot', [{ type: 'file', name: `../../../../../../../..${outside}/dotdot`, content: 'x' }]],
      ['symlink', [{ type: 'symlink', name: 'evil', linkname: outside }, { type: 'file', name: 'evil/through-symlink', content: 'x' }]],
      ['hardlink', [{ type: 'link', name: 'passwd', linkname: '/etc/passwd' }]],
    ];
    for (const [tag, entries] of hostile) {
      const img = buildImage([await buildLayer(entries)]);
      await pushImage(registry.host, 'library/hostile', tag, img);
      const res = await daemon.cri.image.PullImage({ image: { image: `hostile:${tag}` } }).then(
        () => 'pulled',
        (err: Error) => err.message,
      );
      assert.deepEqual(await readdir(outside), [], `${tag}: ${res}`);
      if (res === 'pulled') {
        // A confined symlink write lands inside the snapshot, never outside.
        continue;
      }
      const status = await daemon.cri.image.ImageStatus({ image: { image: `hostile:${tag}` } });
      assert.equal(status.image, null, tag);
    }
    const passwd = await readFile('/etc/passwd', 'utf8');
    assert.match(passwd, /^root:/);
  });

  it('rejects malformed and unknown references with clear codes', async () => {
    await assert.rejects(daemon.cri.image.PullImage({ image: { image: '' } }), (err: { code?: number }) => err.code === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(daemon.cri.image.PullImage({ image: { image: 'UPPER/Case:x' } }), (err: { code?: number }) => err.code === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(daemon.cri.image.PullImage({ image: { image: 'does-not-exist:1' } }), (err: { code?: number; message: string }) => {
      assert.notEqual(err.code, GrpcStatus.INTERNAL, err.message);
      return true;
    });
    // Removing an unknown image is not an error (kubelet retries removals).
    await daemon.cri.image.RemoveImage({ image: { image: 'never-pulled:1' } });
  });

  it('reports image filesystem usage', async () => {
    const res = await crictl(daemon.dirs.socket, ['imagefsinfo']);
    assert.equal(res.code, 0, res.stderr);
    const { image_filesystems } = await daemon.cri.image.ImageFsInfo({});
    assert.equal(image_filesystems[0]!.fs_id!.mountpoint, join(daemon.dirs.root, 'snapshots'));
    assert.ok(Number(image_filesystems[0]!.used_bytes!.value) > 0);
    assert.ok(Number(image_filesystems[0]!.inodes_used!.value) > 0);
  });

  it('crictl rmi removes every name and garbage collection frees blobs and snapshots', async () => {
    const blobsBefore = await countFiles(join(daemon.dirs.root, 'content', 'blobs'));
    const snapshotsBefore = (await readdir(join(daemon.dirs.root, 'snapshots'))).length;
    const res = await crictl(daemon.dirs.socket, ['rmi', 'berth-test:1.0']);
    assert.equal(res.code, 0, res.stderr);
    const status = await daemon.cri.image.ImageStatus({ image: { image: base.config.digest } });
    assert.equal(status.image, null);
    const blobsAfter = await countFiles(join(daemon.dirs.root, 'content', 'blobs'));
    const snapshotsAfter = (await readdir(join(daemon.dirs.root, 'snapshots'))).length;
    for (const blob of [base.manifest, base.config, ...base.layers]) {
      assert.equal(existsSync(join(daemon.dirs.root, 'content', 'blobs', 'sha256', blob.digest.slice(7))), false, blob.digest);
    }
    // Also collected: blobs of the hostile pulls that failed (nothing references them).
    assert.ok(blobsBefore - blobsAfter >= 2 + base.layers.length, `${blobsBefore} → ${blobsAfter}`);
    assert.ok(snapshotsBefore - snapshotsAfter >= base.layers.length, `${snapshotsBefore} → ${snapshotsAfter}`);
    // The other images are intact.
    const multi = await daemon.cri.image.ImageStatus({ image: { image: 'multi:v1' } });
    assert.ok(multi.image);
    assert.ok(existsSync(join(daemon.dirs.root, 'content', 'blobs', 'sha256', multi.image.id.slice(7))));
  });
});
