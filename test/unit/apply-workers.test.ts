import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { LayerApplyWorkers, type GrowingFileListener, type GrowingLayerFile } from '../../src/core/diff/apply-workers.js';
import { lgetxattr } from '../../src/core/sys/native.js';

type Entry = { name: string; type?: 'file' | 'link'; linkname?: string; body?: Buffer | string; mode?: number };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode ?? 0o644, mtime: new Date(0) }, e.body ?? '', (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  pack.finalize();
  await collecting;
  return Buffer.concat(chunks);
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('LayerApplyWorkers', () => {
  let dir: string;
  let workers: LayerApplyWorkers;
  let layerFile: string;
  let layerTar: Buffer;
  const big = randomBytes(2 << 20);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-apply-workers-'));
    // Files are applied in a worker only from this size on: 0 sends every layer to one.
    workers = new LayerApplyWorkers({ maxWorkers: 1, minWorkerBytes: 0 });
    layerTar = await tarOf([
      { name: 'big.bin', body: big },
      { name: 'etc/.wh..wh..opq' },
      { name: 'etc/conf', body: 'conf', mode: 0o600 },
      { name: '.wh.removed' },
    ]);
    layerFile = join(dir, 'layer.tar.gz');
    await writeFile(layerFile, gzipSync(layerTar));
  });

  after(async () => {
    await workers.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function target(name: string): Promise<string> {
    const path = join(dir, name);
    await mkdir(path);
    return path;
  }

  it('applies a layer file on a worker thread exactly as in-process, with whiteouts and the opaque xattr', async () => {
    const root = await target('worker');
    const result = await workers.apply(layerFile, 1 << 30, { root, whiteoutMode: 'overlay', expectedDiffId: sha256(layerTar) });
    assert.deepEqual(result, { diffId: sha256(layerTar), size: layerTar.length });
    assert.equal(workers.size, 1);
    assert.deepEqual(await readFile(join(root, 'big.bin')), big);
    assert.equal((await stat(join(root, 'etc', 'conf'))).mode & 0o777, 0o600);
    assert.equal(lgetxattr(join(root, 'etc'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.ok((await lstat(join(root, 'removed'))).isCharacterDevice());
  });

  it('reports a diffID mismatch with its class name, gRPC code and message, and the worker stays usable', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(workers.apply(layerFile, 1 << 30, { root: await target('mismatch'), whiteoutMode: 'overlay', expectedDiffId: wrong }), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'DiffIdMismatchError');
      assert.equal(err.code, 'FAILED_PRECONDITION');
      assert.match(err.message, new RegExp(`expected ${wrong}, got ${sha256(layerTar)}`));
      return true;
    });
    const again = await workers.apply(layerFile, 1 << 30, { root: await target('again'), whiteoutMode: 'overlay' });
    assert.equal(again.diffId, sha256(layerTar));
    assert.equal(workers.size, 1, 'the same worker was reused');
  });

  it('asks for the lower dirs only on a hardlink into a lower layer, and copies the file from there', async () => {
    const lower = await target('lower');
    await writeFile(join(lower, 'lib.so'), 'lower library', { mode: 0o755 });
    const linking = join(dir, 'linking.tar');
    await writeFile(linking, await tarOf([{ name: 'link.so', type: 'link', linkname: 'lib.so' }]));
    let asked = 0;
    const root = await target('linked');
    await workers.apply(linking, 1 << 30, {
      root,
      whiteoutMode: 'overlay',
      lowerDirs: async () => {
        asked++;
        return [lower];
      },
    });
    assert.equal(asked, 1);
    assert.equal(await readFile(join(root, 'link.so'), 'utf8'), 'lower library');

    let askedAgain = 0;
    await workers.apply(layerFile, 1 << 30, {
      root: await target('no-links'),
      whiteoutMode: 'overlay',
      lowerDirs: async () => {
        askedAgain++;
        return [];
      },
    });
    assert.equal(askedAgain, 0, 'a layer without such hardlinks never waits for its parents');

    await assert.rejects(
      workers.apply(linking, 1 << 30, { root: await target('parent-failed'), whiteoutMode: 'overlay', lowerDirs: () => Promise.reject(new Error('parent layer failed')) }),
      /parent layer failed/,
    );
  });

  /**
   * Writes `data` into `path` in steps, like a download into the content store,
   * telling the follower after each step; `failAt` makes the writer fail there.
   */
  async function growingWrite(path: string, data: Buffer, steps: number, failAt?: number, { verify = true } = {}) {
    const writer = await open(path, 'w');
    const listeners = new Set<GrowingFileListener>();
    let available = 0;
    const reader = await open(path, 'r');
    const file: GrowingLayerFile = {
      fd: reader.fd,
      get available() {
        return available;
      },
      follow(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const writing = (async () => {
      const step = Math.ceil(data.length / steps);
      for (let offset = 0, i = 0; offset < data.length; offset += step, i++) {
        // Give the reader time to catch up and wait, so it really follows.
        await new Promise((r) => setTimeout(r, 5));
        if (i === failAt) {
          for (const l of listeners) l.failed(new Error('download failed: connection reset'));
          return;
        }
        const chunk = data.subarray(offset, offset + step);
        await writer.write(chunk, 0, chunk.length, offset);
        available = offset + chunk.length;
        for (const l of listeners) l.grown(available);
      }
      if (verify) for (const l of listeners) l.finished();
    })();
    const verified = (): void => {
      for (const l of listeners) l.finished();
    };
    const failed = (err: Error): void => {
      for (const l of listeners) l.failed(err);
    };
    return { file, writing, verified, failed, close: async () => Promise.all([writer.close(), reader.close()]) };
  }

  for (const where of ['a worker thread', 'the calling thread'] as const) {
    it(`applies a layer file as it is written, on ${where}`, async () => {
      const appliers = where === 'a worker thread' ? workers : new LayerApplyWorkers({ maxWorkers: 0 });
      const compressed = gzipSync(layerTar);
      const growing = await growingWrite(join(dir, `growing-${where.length}.tar.gz`), compressed, 40);
      try {
        const root = await target(`growing-${where.length}`);
        const result = await appliers.applyGrowing(growing.file, compressed.length, { root, whiteoutMode: 'overlay', expectedDiffId: sha256(layerTar) });
        await growing.writing;
        assert.deepEqual(result, { diffId: sha256(layerTar), size: layerTar.length });
        assert.deepEqual(await readFile(join(root, 'big.bin')), big);
      } finally {
        await growing.close();
      }
    });

    it(`fails the apply with the writer's error when the download fails, on ${where}`, async () => {
      const appliers = where === 'a worker thread' ? workers : new LayerApplyWorkers({ maxWorkers: 0 });
      const compressed = gzipSync(layerTar);
      const growing = await growingWrite(join(dir, `failing-${where.length}.tar.gz`), compressed, 40, 20);
      try {
        await assert.rejects(
          appliers.applyGrowing(growing.file, compressed.length, { root: await target(`failing-${where.length}`), whiteoutMode: 'overlay' }),
          /connection reset/,
        );
      } finally {
        await growing.writing;
        await growing.close();
      }
    });
  }

  for (const where of ['a worker thread', 'the calling thread'] as const) {
    it(`stops expanding an unverified download past its limit until the download is verified, on ${where}`, async () => {
      const appliers = where === 'a worker thread' ? workers : new LayerApplyWorkers({ maxWorkers: 0 });
      // 80 MiB of zeros compress to ~80 KiB: far past 64 MiB + 8 x the compressed size.
      const zeros = Buffer.alloc(80 << 20);
      const bomb = gzipSync(await tarOf([{ name: 'zeros.bin', body: zeros }]));
      const growing = await growingWrite(join(dir, `bomb-${where.length}.tar.gz`), bomb, 4, undefined, { verify: false });
      const root = await target(`bomb-${where.length}`);
      try {
        let done = false;
        const applying = appliers.applyGrowing(growing.file, bomb.length, { root, whiteoutMode: 'overlay' }).finally(() => (done = true));
        await growing.writing;
        const out = join(root, 'zeros.bin');
        const sizeOf = async (): Promise<number> => (await stat(out).catch(() => undefined))?.size ?? 0;
        // It extracts up to the limit, then holds there.
        for (let i = 0; (await sizeOf()) < 60 << 20 && i < 500; i++) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(done, false, 'the apply waits for the verification');
        assert.ok((await sizeOf()) < zeros.length, `extraction stopped at ${await sizeOf()} bytes`);
        growing.verified();
        const result = await applying;
        assert.equal(result.size > zeros.length, true);
        assert.equal(await sizeOf(), zeros.length);
      } finally {
        await growing.close();
      }
    });
  }

  for (const where of ['a worker thread', 'the calling thread'] as const) {
    it(`stops an apply when its signal aborts (nobody wants the layer any more), on ${where}`, async () => {
      const appliers = where === 'a worker thread' ? workers : new LayerApplyWorkers({ maxWorkers: 0 });
      const compressed = gzipSync(layerTar);
      // The writer stops half way and never goes on: only the signal can end the apply.
      const growing = await growingWrite(join(dir, `cancelled-${where.length}.tar.gz`), compressed.subarray(0, compressed.length >> 1), 4, undefined, { verify: false });
      try {
        const stop = new AbortController();
        const applying = appliers.applyGrowing(growing.file, compressed.length, { root: await target(`cancelled-${where.length}`), whiteoutMode: 'overlay', signal: stop.signal });
        await growing.writing;
        stop.abort(new Error('every pull of this layer went away'));
        await assert.rejects(applying, /every pull of this layer went away/);
      } finally {
        await growing.close();
      }
    });
  }

  it('fails a held-back expansion with the download\'s error when the download turns out to lie', async () => {
    const zeros = Buffer.alloc(80 << 20);
    const bomb = gzipSync(await tarOf([{ name: 'zeros.bin', body: zeros }]));
    const growing = await growingWrite(join(dir, 'lying-bomb.tar.gz'), bomb, 4, undefined, { verify: false });
    try {
      const applying = workers.applyGrowing(growing.file, bomb.length, { root: await target('lying-bomb'), whiteoutMode: 'overlay' });
      await growing.writing;
      growing.failed(new Error('digest mismatch: expected sha256:aaa'));
      await assert.rejects(applying, /digest mismatch/);
    } finally {
      await growing.close();
    }
  });

  it('lets an idle worker go, and applies in-process after close', async () => {
    const brief = new LayerApplyWorkers({ minWorkerBytes: 0, idleTimeoutMs: 0 });
    try {
      await brief.apply(layerFile, 1 << 30, { root: await target('brief'), whiteoutMode: 'overlay' });
      for (let i = 0; brief.size > 0 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(brief.size, 0, 'the idle worker exited');
    } finally {
      await brief.close();
    }
    const result = await brief.apply(layerFile, 1 << 30, { root: await target('after-close'), whiteoutMode: 'overlay' });
    assert.equal(result.diffId, sha256(layerTar));
    assert.equal(brief.size, 0);
  });

  it('runs an apply in-process when every worker is busy or the file is small', async () => {
    const small = new LayerApplyWorkers({ maxWorkers: 1, minWorkerBytes: 1 << 30 });
    try {
      await small.apply(layerFile, 1000, { root: await target('small'), whiteoutMode: 'overlay' });
      assert.equal(small.size, 0, 'no worker for a small layer');
    } finally {
      await small.close();
    }
    const [a, b] = await Promise.all([
      workers.apply(layerFile, 1 << 30, { root: await target('busy-a'), whiteoutMode: 'overlay' }),
      workers.apply(layerFile, 1 << 30, { root: await target('busy-b'), whiteoutMode: 'overlay' }),
    ]);
    assert.equal(a.diffId, b.diffId);
    assert.equal(workers.size, 1);
  });
});
