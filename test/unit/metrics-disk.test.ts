import assert from 'node:assert/strict';
import { link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskUsageCache, measureDiskUsage, type DiskUsage } from '../../src/core/metrics/disk-usage.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-du-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function allocated(path: string): Promise<number> {
  return (await lstat(path)).blocks * 512;
}

describe('measureDiskUsage', () => {
  it('counts bytes and inodes of a tree, hard links once', async (t) => {
    const root = await tempDir(t);
    await mkdir(join(root, 'a/b'), { recursive: true });
    await writeFile(join(root, 'a/big'), Buffer.alloc(256 * 1024, 1));
    await writeFile(join(root, 'a/b/small'), 'hello');
    await link(join(root, 'a/big'), join(root, 'a/b/big-again'));
    await symlink('big', join(root, 'a/link'));
    const usage = await measureDiskUsage(root);
    // root, a, a/b, big (+ its hard link), small, link
    assert.equal(usage.inodes, 6);
    let expected = 0;
    for (const p of ['', 'a', 'a/b', 'a/big', 'a/b/small', 'a/link']) expected += await allocated(join(root, p));
    assert.equal(usage.bytes, expected);
    assert.ok(usage.bytes >= 256 * 1024);
    assert.ok(usage.bytes < 2 * 256 * 1024 + 64 * 1024, 'the hard-linked 256 KiB file is counted once');
  });

  it('grows when files are added', async (t) => {
    const root = await tempDir(t);
    const before = await measureDiskUsage(root);
    await writeFile(join(root, 'f'), Buffer.alloc(128 * 1024, 1));
    const after = await measureDiskUsage(root);
    assert.equal(after.inodes, before.inodes + 1);
    assert.ok(after.bytes >= before.bytes + 128 * 1024);
  });

  it('fails for a missing root', async () => {
    await assert.rejects(measureDiskUsage('/nonexistent/berth-du'), /ENOENT/);
  });
});

describe('DiskUsageCache', () => {
  it('reuses a measurement within the TTL and shares concurrent walks', async () => {
    let now = 0;
    let walks = 0;
    const cache = new DiskUsageCache({
      ttlMs: 1000,
      nowMs: () => now,
      measure: async (): Promise<DiskUsage> => ({ bytes: ++walks, inodes: 1 }),
    });
    const [a, b] = await Promise.all([cache.get('/x'), cache.get('/x')]);
    assert.equal(a.bytes, 1);
    assert.equal(b.bytes, 1);
    now = 999;
    assert.equal((await cache.get('/x')).bytes, 1);
    now = 1001;
    assert.equal((await cache.get('/x')).bytes, 2);
    cache.invalidate('/x');
    assert.equal((await cache.get('/x')).bytes, 3);
    assert.equal((await cache.get('/y')).bytes, 4);
  });

  it('does not cache failures', async () => {
    let calls = 0;
    const cache = new DiskUsageCache({
      measure: async (): Promise<DiskUsage> => {
        calls += 1;
        if (calls === 1) throw new Error('walk failed');
        return { bytes: 10, inodes: 1 };
      },
    });
    await assert.rejects(cache.get('/x'), /walk failed/);
    assert.equal((await cache.get('/x')).bytes, 10);
  });
});
