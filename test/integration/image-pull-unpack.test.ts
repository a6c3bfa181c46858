/**
 * Layers are unpacked side by side, each into its own snapshot, and chained in
 * order as they finish: the merged view must be what applying them one after
 * the other gives (whiteouts, opaque directories, hardlinks into a lower
 * layer), and a berthd killed in the middle of a pull shows no image and
 * completes the pull after a restart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BERTHCTL, startDaemon, type TestDaemon } from '../support/daemon.js';
import { run } from '../support/exec.js';
import { readMetadata } from '../support/metadata-db.js';
import { writeMirrorConfig } from '../support/mirror.js';
import { buildImage, buildLayer, pushImage, type BuiltImage } from '../support/oci-image.js';
import { startProxy, type TestProxy } from '../support/proxy.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const BIG = randomBytes(3 * 1024 * 1024);

/** The snapshot directories of an image's chain, top layer first, read from berthd's database. */
function chainDirs(daemon: TestDaemon, chainId: string): string[] {
  return readMetadata(daemon.dirs.root, (db) => {
    const get = db.prepare<[string], { id: number; parent: string | null; kind: string }>('SELECT id, parent, kind FROM snapshots WHERE key = ?');
    const dirs: string[] = [];
    for (let key: string | null = chainId; key; ) {
      const row = get.get(key);
      assert.ok(row, `snapshot ${key} is recorded`);
      assert.equal(row.kind, 'committed');
      dirs.push(join(daemon.dirs.root, 'snapshots', String(row.id), 'fs'));
      key = row.parent;
    }
    return dirs;
  });
}

function activeExtractions(daemon: TestDaemon): string[] {
  return readMetadata(daemon.dirs.root, (db) => db.prepare<[], { key: string }>("SELECT key FROM snapshots WHERE key LIKE 'extract-%'").all().map((r) => r.key));
}

/** Mounts the chain read-only as a container would see it, runs `inspect`, unmounts. */
async function withMergedView<T>(lowers: string[], inspect: (dir: string) => Promise<T>): Promise<T> {
  const target = await mkdtemp(join(tmpdir(), 'berth-merged-'));
  try {
    const mounted = await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,index=off,lowerdir=${lowers.join(':')}`, target]);
    assert.equal(mounted.code, 0, mounted.stderr);
    try {
      return await inspect(target);
    } finally {
      await run('umount', [target]);
    }
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

describe('parallel unpack of a multi-layer image', () => {
  let registry: TestRegistry;
  let certsDir: string;
  let image: BuiltImage;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    registry = await startRegistry();
    certsDir = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    image = buildImage([
      await buildLayer([
        { type: 'directory', name: 'etc' },
        { type: 'file', name: 'etc/a.txt', content: 'a from layer 0' },
        { type: 'file', name: 'etc/keep.txt', content: 'keep 0' },
        { type: 'directory', name: 'opaque' },
        { type: 'file', name: 'opaque/old1', content: 'old' },
        { type: 'file', name: 'opaque/old2', content: 'old' },
        { type: 'directory', name: 'gone' },
        { type: 'file', name: 'gone/file', content: 'gone' },
        { type: 'directory', name: 'lib' },
        { type: 'file', name: 'lib/target.so', content: 'target in layer 0', mode: 0o755 },
        { type: 'file', name: 'big.bin', content: BIG },
      ], 'gzip'),
      await buildLayer([
        { type: 'file', name: 'etc/.wh.a.txt', content: '' },
        { type: 'file', name: 'opaque/.wh..wh..opq', content: '' },
        { type: 'file', name: 'opaque/new', content: 'new in layer 1' },
        { type: 'link', name: 'lib/link.so', linkname: 'lib/target.so' },
      ], 'zstd'),
      await buildLayer([
        { type: 'file', name: 'etc/a.txt', content: 'a again in layer 2' },
        { type: 'file', name: 'etc/keep.txt', content: 'keep 2' },
        { type: 'file', name: '.wh.gone', content: '' },
      ], 'none'),
    ]);
    await pushImage(registry.host, 'library/layered', '1', image);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await registry?.stop();
    if (certsDir) await rm(certsDir, { recursive: true, force: true });
  });

  async function mirrorThrough(proxy: TestProxy): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeMirrorConfig(dir, ['docker.io'], [proxy.url]);
    return dir;
  }

  it('upper layers unpacked before the base still give the merged view of applying them in order', async () => {
    // The base layer is held back until both upper layers have been served, so they unpack first.
    const [base, ...uppers] = image.layers;
    const held: (() => void)[] = [];
    let uppersServed = 0;
    const proxy = await startProxy(registry.url, (req, res, forward) => {
      if (req.url?.endsWith(`/blobs/${base!.digest}`) && uppersServed < uppers.length) {
        held.push(forward);
        return true;
      }
      if (uppers.some((l) => req.url?.endsWith(`/blobs/${l.digest}`))) {
        res.on('finish', () => {
          if (++uppersServed === uppers.length) held.splice(0).forEach((f) => f());
        });
      }
    });
    cleanups.push(() => proxy.close());
    const daemon = await startDaemon({ configToml: `[registry]\nconfig_path = "${await mirrorThrough(proxy)}"\n` });
    cleanups.push(async () => {
      await daemon.stop();
      await daemon.cleanup();
    });

    const pulled = await daemon.cri.image.PullImage({ image: { image: 'layered:1' } });
    assert.equal(pulled.image_ref, image.config.digest);
    assert.equal(uppersServed, uppers.length);
    const status = await daemon.cri.image.ImageStatus({ image: { image: 'layered:1' }, verbose: true });
    const { chainID } = JSON.parse(status.info.info!) as { chainID: string };
    const dirs = chainDirs(daemon, chainID);
    assert.equal(dirs.length, 3);
    assert.deepEqual(activeExtractions(daemon), []);

    await withMergedView(dirs, async (root) => {
      assert.deepEqual((await readdir(root)).sort(), ['big.bin', 'etc', 'lib', 'opaque']);
      assert.equal(await readFile(join(root, 'etc', 'a.txt'), 'utf8'), 'a again in layer 2');
      assert.equal(await readFile(join(root, 'etc', 'keep.txt'), 'utf8'), 'keep 2');
      assert.deepEqual(await readdir(join(root, 'opaque')), ['new']);
      assert.equal(await readFile(join(root, 'lib', 'link.so'), 'utf8'), 'target in layer 0');
      assert.equal((await stat(join(root, 'lib', 'link.so'))).mode & 0o777, 0o755);
      assert.equal(await readFile(join(root, 'lib', 'target.so'), 'utf8'), 'target in layer 0');
      assert.deepEqual(await readFile(join(root, 'big.bin')), BIG);
    });
  });

  it('a berthd killed mid-pull shows no image after a restart, then pulls it completely, and the store verifies', async () => {
    // The top layer stalls half-way, so the lower ones unpack while the pull cannot finish.
    const top = image.layers[image.layers.length - 1]!;
    let stall = true;
    let stalled!: () => void;
    const stalledNow = new Promise<void>((resolve) => (stalled = resolve));
    const proxy = await startProxy(registry.url, (req, res) => {
      if (!stall || !req.url?.endsWith(`/blobs/${top.digest}`)) return false;
      http.get(`${registry.url}${req.url}`, (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
          res.write(body.subarray(0, body.length >> 1), () => stalled());
        });
      });
      return true;
    });
    cleanups.push(() => proxy.close());
    const daemon = await startDaemon({ configToml: `[registry]\nconfig_path = "${await mirrorThrough(proxy)}"\n` });
    cleanups.push(() => daemon.cleanup());

    const pulling = daemon.cri.image.PullImage({ image: { image: 'layered:1' } }).then(
      () => 'pulled',
      (err: Error) => err.message,
    );
    await stalledNow;
    await daemon.stop('SIGKILL');
    assert.notEqual(await pulling, 'pulled');

    stall = false;
    const restarted = await startDaemon({ dirs: daemon.dirs });
    cleanups.push(() => restarted.stop());
    assert.equal((await restarted.cri.image.ImageStatus({ image: { image: 'layered:1' } })).image, null);
    assert.deepEqual((await restarted.cri.image.ListImages({})).images, []);
    assert.deepEqual(activeExtractions(restarted), [], 'half-unpacked layers are removed at start');

    const pulled = await restarted.cri.image.PullImage({ image: { image: 'layered:1' } });
    assert.equal(pulled.image_ref, image.config.digest);
    assert.deepEqual(activeExtractions(restarted), []);
    const topGets = proxy.requests.filter((r) => r.method === 'GET' && r.url.endsWith(`/blobs/${top.digest}`));
    assert.equal(topGets.length, 2, 'the stalled blob is fetched again');
    const ingestDir = join(restarted.dirs.root, 'content', 'ingest');
    const leftovers = existsSync(ingestDir) ? await readdir(ingestDir) : [];
    const describeLeftovers = async (): Promise<string> =>
      (await Promise.all(leftovers.map(async (d) => `${d}: ${(await readdir(join(ingestDir, d))).join(',')} ${await readFile(join(ingestDir, d, 'ref.json'), 'utf8').catch(() => '')}`))).join('\n');
    assert.deepEqual(leftovers, [], await describeLeftovers());

    const verify = await run(process.execPath, [BERTHCTL, '--address', restarted.dirs.socket, '--root', restarted.dirs.root, '--config', restarted.dirs.configPath, 'content', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`^${2 + image.layers.length} blobs verified$`, 'm'));
  });
});
