import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OVERLAY_OPAQUE_XATTR } from '../../src/core/diff/apply.js';
import { lsetxattr, mknod, S_IFCHR } from '../../src/core/sys/native.js';
import { findImageFile, ImageUserFilesCache, readImageFile } from '../../src/cri/image-files.js';
import type { LayerDirs } from '../../src/core/snapshots/overlay.js';

/** A snapshot of `layers` (topmost first, each with an etc directory) under a fresh empty upper, as CreateContainer reads them. */
async function layered(root: string, name: string, layers: Record<string, string>[]): Promise<LayerDirs> {
  const upper = join(root, name, 'upper');
  await mkdir(upper, { recursive: true });
  const lowers: string[] = [];
  for (const [i, files] of layers.entries()) {
    const dir = join(root, name, `layer${i}`);
    await mkdir(join(dir, 'etc'), { recursive: true });
    for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path), content);
    lowers.push(dir);
  }
  return { upper, lowers };
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-image-files-'));
});
after(() => rm(root, { recursive: true, force: true }));

describe('findImageFile', () => {
  it('follows an absolute symlink inside the image, never to the host', async () => {
    // On the host: a passwd the image must not reach.
    const hostEtc = join(root, 'host-etc');
    await mkdir(hostEtc, { recursive: true });
    await writeFile(join(hostEtc, 'passwd'), 'host:x:0:0::/:/bin/sh\n');
    const escaping = await layered(root, 'escaping', [{}]);
    await rm(join(escaping.lowers[0]!, 'etc'), { recursive: true });
    await symlink(hostEtc, join(escaping.lowers[0]!, 'etc'));
    assert.equal(await readImageFile(escaping, 'etc/passwd'), undefined, 'the host path is looked up inside the image');

    const relative = await layered(root, 'relative', [{}]);
    await rm(join(relative.lowers[0]!, 'etc'), { recursive: true });
    await symlink(`../../../../../../../../..${hostEtc}`, join(relative.lowers[0]!, 'etc'));
    assert.equal(await readImageFile(relative, 'etc/passwd'), undefined, '.. stops at the image root');

    const inside = await layered(root, 'inside', [{}]);
    await rm(join(inside.lowers[0]!, 'etc'), { recursive: true });
    await mkdir(join(inside.lowers[0]!, 'usr', 'etc'), { recursive: true });
    await writeFile(join(inside.lowers[0]!, 'usr', 'etc', 'passwd'), 'app:x:1000:1000::/:/bin/sh\n');
    await symlink('/usr/etc', join(inside.lowers[0]!, 'etc'));
    assert.equal(await readImageFile(inside, 'etc/passwd'), 'app:x:1000:1000::/:/bin/sh\n');
  });

  it('never looks through a lower layer\'s symlink that an upper directory hides, nor a final symlink out', async () => {
    const hostEtc = join(root, 'host-etc-2');
    await mkdir(hostEtc, { recursive: true });
    await writeFile(join(hostEtc, 'passwd'), 'host:x:0:0::/:/bin/sh\n');
    // The upper layer's etc is a real (empty) directory; the lower one's is a symlink to the host.
    const hidden = await layered(root, 'hidden-link', [{}, {}]);
    await rm(join(hidden.lowers[1]!, 'etc'), { recursive: true });
    await symlink(hostEtc, join(hidden.lowers[1]!, 'etc'));
    assert.equal(await readImageFile(hidden, 'etc/passwd'), undefined);
    // The final component a symlink out, absolute and relative.
    for (const target of [join(hostEtc, 'passwd'), `../../../../../../../..${hostEtc}/passwd`]) {
      const dirs = await layered(root, `final-${target.length}`, [{}]);
      await symlink(target, join(dirs.lowers[0]!, 'etc', 'passwd'));
      assert.equal(await readImageFile(dirs, 'etc/passwd'), undefined, target);
    }
    // The same absolute target present inside the image: that copy is the one read.
    const mirrored = await layered(root, 'mirrored', [{}]);
    await rm(join(mirrored.lowers[0]!, 'etc'), { recursive: true });
    await mkdir(join(mirrored.lowers[0]!, hostEtc), { recursive: true });
    await writeFile(join(mirrored.lowers[0]!, hostEtc, 'passwd'), 'image:x:7:7::/:/bin/sh\n');
    await symlink(hostEtc, join(mirrored.lowers[0]!, 'etc'));
    assert.equal(await readImageFile(mirrored, 'etc/passwd'), 'image:x:7:7::/:/bin/sh\n');
  });

  it('refuses a user database over 1 MiB', async () => {
    const dirs = await layered(root, 'huge', [{ 'etc/passwd': 'x'.repeat((1 << 20) + 1) }]);
    await assert.rejects(readImageFile(dirs, 'etc/passwd'), /over 1048576 bytes/);
  });

  it('follows a symlink in one layer to a file of another, and gives up on a loop', async () => {
    const dirs = await layered(root, 'across', [{}, { 'etc/passwd.real': 'real\n' }]);
    await symlink('passwd.real', join(dirs.lowers[0]!, 'etc', 'passwd'));
    assert.equal(await readImageFile(dirs, 'etc/passwd'), 'real\n');
    await symlink('loop', join(dirs.lowers[0]!, 'etc', 'loop'));
    assert.equal(await findImageFile(dirs, 'etc/loop'), undefined);
  });

  it('sees what overlayfs would: a whiteout or an opaque directory hides lower layers', async () => {
    const dirs = await layered(root, 'hidden', [{ 'etc/group': 'top\n' }, { 'etc/passwd': 'lower\n', 'etc/group': 'lower\n' }]);
    assert.equal(await readImageFile(dirs, 'etc/passwd'), 'lower\n');
    mknod(join(dirs.lowers[0]!, 'etc', 'passwd'), S_IFCHR | 0o600, 0, 0); // overlayfs's whiteout
    assert.equal(await readImageFile(dirs, 'etc/passwd'), undefined, 'the whiteout hides the lower passwd');
    await rm(join(dirs.lowers[0]!, 'etc', 'passwd'));
    const opaque = join(dirs.lowers[0]!, 'etc');
    lsetxattr(opaque, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    assert.equal(await readImageFile(dirs, 'etc/passwd'), undefined, 'the opaque etc of the upper layer hides the lower one');
    assert.equal(await readImageFile(dirs, 'etc/group'), 'top\n');
  });
});

describe('ImageUserFilesCache', () => {
  it('reads the topmost copy of each file', async () => {
    const dirs = await layered(root, 'top', [{ 'etc/passwd': 'app:x:1000:1000::/:/bin/sh\n' }, { 'etc/passwd': 'root:x:0:0::/:/bin/sh\n', 'etc/group': 'root:x:0:\n' }]);
    const files = await new ImageUserFilesCache().get('sha256:top', dirs);
    assert.deepEqual(files, { passwd: 'app:x:1000:1000::/:/bin/sh\n', group: 'root:x:0:\n' });
    assert.equal(await readImageFile(dirs, 'etc/shadow'), undefined);
  });

  it('reads an image once per chain id and keeps the most recently used', async () => {
    const cache = new ImageUserFilesCache(2);
    const a = await layered(root, 'a', [{ 'etc/passwd': 'a\n' }]);
    const b = await layered(root, 'b', [{ 'etc/passwd': 'b\n' }]);
    const c = await layered(root, 'c', [{ 'etc/passwd': 'c\n' }]);
    assert.equal((await cache.get('sha256:a', a)).passwd, 'a\n');
    await writeFile(join(a.lowers[0]!, 'etc/passwd'), 'changed\n');
    assert.equal((await cache.get('sha256:a', a)).passwd, 'a\n', 'kept, not read again');
    await cache.get('sha256:b', b);
    await cache.get('sha256:a', a); // a is now the most recently used
    await cache.get('sha256:c', c); // evicts b
    assert.equal((await cache.get('sha256:a', a)).passwd, 'a\n', 'a stayed');
    await writeFile(join(b.lowers[0]!, 'etc/passwd'), 'b again\n');
    assert.equal((await cache.get('sha256:b', b)).passwd, 'b again\n', 'b was evicted and is read afresh');
  });

  it('fails on an error other than a missing file, and does not keep the failure', async () => {
    const cache = new ImageUserFilesCache();
    const unreadable: LayerDirs = { upper: join(root, 'nul\0name'), lowers: [] };
    await assert.rejects(cache.get('sha256:flaky', unreadable));
    const good = await layered(root, 'flaky', [{ 'etc/group': 'g:x:5:\n' }]);
    assert.equal((await cache.get('sha256:flaky', good)).group, 'g:x:5:\n');
  });

  it('gives nothing for files a layer lacks, or behind a non-directory', async () => {
    const dirs = await layered(root, 'lacking', [{}]);
    await writeFile(join(dirs.upper, 'etc'), 'a file where a directory would be');
    assert.deepEqual(await new ImageUserFilesCache().get(undefined, dirs), { passwd: undefined, group: undefined });
  });

  it('does not keep files too big to hold', async () => {
    const cache = new ImageUserFilesCache();
    const big = await layered(root, 'big', [{ 'etc/passwd': 'x'.repeat(70 * 1024) }]);
    assert.equal((await cache.get('sha256:big', big)).passwd?.length, 70 * 1024);
    await writeFile(join(big.lowers[0]!, 'etc/passwd'), 'small\n');
    assert.equal((await cache.get('sha256:big', big)).passwd, 'small\n');
  });
});
