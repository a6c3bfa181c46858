/**
 * berthd's root on a small tmpfs: a pull that does not fit (the blob, the
 * blob with its unpacked files, or the unpacked files alone) fails with RESOURCE_EXHAUSTED, leaves the content store
 * consistent and no partial image, frees what it wrote, and a pull that fits
 * succeeds afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BERTHCTL, makeDaemonDirs, startDaemon, type DaemonDirs, type TestDaemon } from '../support/daemon.js';
import { run } from '../support/exec.js';
import { rawTar } from '../support/hostile-layers.js';
import { buildImage, layerFromTar, pushImage } from '../support/oci-image.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const MiB = 1024 * 1024;
const ROOT_SIZE = 40 * MiB;

async function usedBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return (s.blocks - s.bfree) * s.bsize;
}

/** One uncompressed layer holding `size` random (incompressible) bytes. */
async function randomImage(size: number) {
  const tarball = await rawTar([{ type: 'file', name: 'payload.bin', content: randomBytes(size) }]);
  return buildImage([layerFromTar(tarball, 'none')]);
}

/** One gzip layer of `size` zero bytes: a tiny blob that unpacks big. */
async function zerosImage(size: number) {
  const tarball = await rawTar([{ type: 'file', name: 'zeros.bin', content: Buffer.alloc(size) }]);
  return buildImage([layerFromTar(tarball, 'gzip')]);
}

describe('reliability: disk full under berthd root', () => {
  let registry: TestRegistry;
  let dirs: DaemonDirs;
  let daemon: TestDaemon | undefined;
  let mounted = false;

  before(async () => {
    registry = await startRegistry();
    dirs = await makeDaemonDirs();
    // No mirrors: 127.0.0.1 registries are reached directly over HTTP.
    await writeFile(dirs.configPath, `[registry]\nconfig_path = "${join(dirs.base, 'certs.d')}"\n`);
    await mkdir(dirs.root, { recursive: true });
    const mount = await run('mount', ['-t', 'tmpfs', '-o', `size=${ROOT_SIZE},mode=0711`, 'berth-disk-full', dirs.root]);
    assert.equal(mount.code, 0, mount.stderr);
    mounted = true;
    await pushImage(registry.host, 'full/too-big', 'v1', await randomImage(48 * MiB)); // the blob alone does not fit
    await pushImage(registry.host, 'full/unpack-too-big', 'v1', await randomImage(24 * MiB)); // the blob fits, blob + unpacked copy do not
    await pushImage(registry.host, 'full/expands-too-big', 'v1', await zerosImage(48 * MiB)); // a small blob whose files do not fit
    await pushImage(registry.host, 'full/small', 'v1', await randomImage(MiB));
    daemon = await startDaemon({ dirs });
  });

  after(async () => {
    await daemon?.stop();
    if (mounted) {
      const umount = await run('umount', [dirs.root]);
      assert.equal(umount.code, 0, umount.stderr);
    }
    await daemon?.cleanup();
    await registry?.stop();
  });

  async function contentVerify(): Promise<string> {
    const res = await run(process.execPath, [BERTHCTL, '--root', dirs.root, '--address', dirs.socket, '--config', dirs.configPath, 'content', 'verify']);
    assert.equal(res.code, 0, `content verify: ${res.stdout}${res.stderr}`);
    return res.stdout.trim();
  }

  it('refuses pulls that do not fit with RESOURCE_EXHAUSTED, stays consistent, then pulls one that fits', async () => {
    const cri = daemon!.cri;
    const usedAtStart = await usedBytes(dirs.root);
    const ref = (repo: string) => `${registry.host}/full/${repo}:v1`;

    const cases = [
      { repo: 'too-big', message: /no space left to store blob sha256:[0-9a-f]{64} \(ENOSPC/ },
      // The layer unpacks while it downloads: either may be the one to run out of space.
      { repo: 'unpack-too-big', message: /no space left to store (blob sha256:[0-9a-f]{64}|the unpacked layer) \(ENOSPC/ },
      { repo: 'expands-too-big', message: /no space left to store the unpacked layer \(ENOSPC/ },
    ];
    for (const { repo, message } of cases) {
      await assert.rejects(cri.image.PullImage({ image: { image: ref(repo) } }, 120_000), (err: { code?: number; details?: string }) => {
        assert.equal(GrpcStatus[err.code ?? -1], 'RESOURCE_EXHAUSTED', `${repo}: ${err.details}`);
        assert.match(err.details ?? '', message, repo);
        return true;
      });
      assert.deepEqual((await cri.image.ListImages({})).images, [], `${repo}: no partial image listed`);
      await contentVerify();
      // The failed pull's data is freed (its partial download aborted, its blobs and snapshots collected):
      // the next pull waits for that collection, so ask through one that cannot succeed.
      await assert.rejects(cri.image.PullImage({ image: { image: ref('absent') } }), (err: { code?: number }) => err.code === GrpcStatus.NOT_FOUND);
      const used = await usedBytes(dirs.root);
      assert.ok(used - usedAtStart < 4 * MiB, `${repo}: ${(used - usedAtStart) / MiB} MiB still used after the failed pull`);
      assert.deepEqual(await readdir(join(dirs.root, 'content', 'ingest')).catch(() => []), [], `${repo}: no partial download kept`);
    }

    const small = await cri.image.PullImage({ image: { image: ref('small') } }, 120_000);
    const { images } = await cri.image.ListImages({});
    assert.deepEqual(images.map((i) => i.id), [small.image_ref]);
    const verified = await contentVerify();
    assert.match(verified, /^3 blobs verified$/); // manifest, config, layer
    console.log(`reliability: disk-full: ${cases.length} pulls over a ${ROOT_SIZE / MiB} MiB root refused with RESOURCE_EXHAUSTED, store consistent, a fitting pull succeeded`);
  });
});
