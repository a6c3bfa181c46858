import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openMetadataDb, schemaVersion, type Db } from '../../src/core/metadata/db.js';
import { MIGRATIONS } from '../../src/core/metadata/migrations.js';
import { OverlaySnapshotter } from '../../src/core/snapshots/overlay.js';
import { unreachableSnapshots } from '../../src/core/gc/collector.js';

describe('overlay snapshotter', () => {
  let dir: string;
  let db: Db;
  let snapshots: OverlaySnapshotter;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-snap-'));
    db = openMetadataDb(join(dir, 'metadata.db'));
    snapshots = new OverlaySnapshotter(db, join(dir, 'snapshots'));
    await snapshots.init();
  });

  after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates a new database to the latest schema', () => {
    assert.equal(schemaVersion(db), MIGRATIONS.length);
  });

  it('a base layer is a writable bind mount, committed under its chain id', async () => {
    const mounts = await snapshots.prepare('extract-1', undefined);
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]!.type, 'bind');
    assert.deepEqual(mounts[0]!.options, ['rw', 'rbind']);
    await writeFile(join(mounts[0]!.source, 'base.txt'), 'base');
    await snapshots.commit('sha256:layer1', 'extract-1');
    assert.equal(snapshots.stat('extract-1'), undefined);
    assert.equal(snapshots.stat('sha256:layer1')?.kind, 'committed');
  });

  it('an active snapshot over two layers mounts overlay with the closest parent first', async () => {
    await snapshots.prepare('extract-2', 'sha256:layer1');
    const dirs2 = snapshots.layerDirs('extract-2');
    await mkdir(dirs2.upper, { recursive: true });
    await writeFile(join(dirs2.upper, 'second.txt'), 'two');
    await snapshots.commit('sha256:layer2', 'extract-2');
    const mounts = await snapshots.prepare('container-rw', 'sha256:layer2');
    assert.equal(mounts.length, 1);
    const m = mounts[0]!;
    assert.equal(m.type, 'overlay');
    const lower = m.options.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length).split(':');
    assert.deepEqual(lower, [snapshots.layerDirs('sha256:layer2').upper, snapshots.layerDirs('sha256:layer1').upper]);
    assert.ok(m.options.some((o) => o.startsWith('upperdir=')));
    assert.ok(m.options.some((o) => o.startsWith('workdir=')));
  });

  it('a view of one layer is a read-only bind mount', async () => {
    const mounts = await snapshots.view('view-1', 'sha256:layer1');
    assert.deepEqual(mounts[0]!.options, ['ro', 'rbind']);
    await snapshots.remove('view-1');
  });

  it('refuses to remove a parent, a missing key, or a duplicate key', async () => {
    await assert.rejects(snapshots.remove('sha256:layer1'), /has 1 children/);
    await assert.rejects(snapshots.remove('nope'), /does not exist/);
    await assert.rejects(snapshots.prepare('container-rw', 'sha256:layer2'), /already exists/);
    await assert.rejects(snapshots.prepare('x', 'sha256:missing'), /parent snapshot sha256:missing does not exist/);
    await assert.rejects(snapshots.prepare('y', 'container-rw'), /is not committed/);
  });

  it('removes children then parents, deleting their directories', async () => {
    const upper = snapshots.layerDirs('container-rw').upper;
    assert.ok(existsSync(upper));
    await snapshots.remove('container-rw');
    assert.equal(existsSync(upper), false);
    await snapshots.remove('sha256:layer2');
    await snapshots.remove('sha256:layer1');
    assert.deepEqual(snapshots.list(), []);
  });

  it('reports usage of a snapshot', async () => {
    const mounts = await snapshots.prepare('usage', undefined);
    await writeFile(join(mounts[0]!.source, 'f'), Buffer.alloc(10000, 1));
    const usage = await snapshots.usage('usage');
    assert.ok(usage.bytes >= 10000, String(usage.bytes));
    assert.equal(usage.inodes, 2);
    await snapshots.remove('usage');
  });

  it('commits a layer prepared without a parent onto one (rebase), so layers unpack side by side', async () => {
    await snapshots.prepare('extract-top', undefined);
    await snapshots.prepare('extract-base', undefined);
    await writeFile(join(snapshots.layerDirs('extract-top').upper, 'top.txt'), 'top');
    await assert.rejects(snapshots.commit('sha256:top', 'extract-top', {}, { parent: 'sha256:base' }), /parent snapshot sha256:base does not exist/);
    await assert.rejects(snapshots.commit('sha256:top', 'extract-top', {}, { parent: 'extract-base' }), /parent snapshot extract-base is not committed/);
    assert.equal(snapshots.stat('extract-top')?.kind, 'active', 'a refused commit changes nothing');

    await snapshots.commit('sha256:base', 'extract-base');
    await snapshots.commit('sha256:top', 'extract-top', { layer: 'top' }, { parent: 'sha256:base' });
    assert.equal(snapshots.stat('sha256:top')?.parent, 'sha256:base');
    assert.deepEqual(snapshots.stat('sha256:top')?.labels, { layer: 'top' });
    const top = snapshots.layerDirs('sha256:top');
    assert.deepEqual(top.lowers, [snapshots.layerDirs('sha256:base').upper]);
    await assert.rejects(snapshots.remove('sha256:base'), /has 1 children/);

    await snapshots.prepare('extract-child', 'sha256:base');
    await assert.rejects(snapshots.commit('sha256:child', 'extract-child', {}, { parent: 'sha256:top' }), /already has parent sha256:base/);
    await snapshots.remove('extract-child');
    await snapshots.remove('sha256:top');
    await snapshots.remove('sha256:base');
  });

  it('cleanup removes directories a crash left without a record', async () => {
    await mkdir(join(snapshots.root, '9999', 'fs'), { recursive: true });
    assert.deepEqual(await snapshots.cleanup(), ['9999']);
  });

  it('removeAll takes a chain children first in one go, and refuses (changing nothing) when a parent would go before its child', async () => {
    await snapshots.prepare('extract-a', undefined);
    await snapshots.commit('sha256:chain-a', 'extract-a');
    await snapshots.prepare('extract-b', 'sha256:chain-a');
    await snapshots.commit('sha256:chain-b', 'extract-b');
    const dirA = snapshots.layerDirs('sha256:chain-a').upper;
    await assert.rejects(snapshots.removeAll(['sha256:chain-a', 'sha256:chain-b']), /has 1 children/);
    assert.ok(snapshots.stat('sha256:chain-b'), 'the transaction rolled back');
    assert.ok(existsSync(dirA));
    await snapshots.removeAll(['sha256:chain-b', 'sha256:chain-a']);
    assert.equal(snapshots.stat('sha256:chain-a'), undefined);
    assert.equal(existsSync(dirA), false);
  });
});

describe('unreachableSnapshots', () => {
  const snap = (key: string, parent?: string, kind: 'committed' | 'active' = 'committed') =>
    ({ key, kind, labels: {}, createdAt: new Date(0), ...(parent ? { parent } : {}) }) as Parameters<typeof unreachableSnapshots>[0][number];

  it('orders a dead chain children first and keeps what live snapshots and containers build on', () => {
    const all = [
      snap('l1'),
      snap('l2', 'l1'),
      snap('l3', 'l2'),
      snap('k1'),
      snap('k2', 'k1'),
      snap('container-rw', 'k2', 'active'),
      snap('extract-left-by-crash', undefined, 'active'),
      snap('live1'),
      snap('live2', 'live1'),
    ];
    assert.deepEqual(unreachableSnapshots(all, new Set(['live2'])), ['l3', 'extract-left-by-crash', 'l2', 'l1']);
  });
});
