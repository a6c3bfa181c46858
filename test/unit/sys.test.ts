import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  findAddonPath,
  isSysError,
  lgetxattr,
  llistxattr,
  lsetxattr,
  MNT_DETACH,
  mknod,
  mount,
  MS_BIND,
  MS_RDONLY,
  MS_REMOUNT,
  nativeAvailable,
  S_IFCHR,
  S_IFIFO,
  umount2,
} from '../../src/core/sys/native.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-sys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('native syscalls addon', () => {
  it('is found by searching upward from the compiled module', () => {
    assert.ok(nativeAvailable());
    assert.match(findAddonPath(), /build\/Release\/berth_sys\.node$/);
    assert.throws(() => findAddonPath('/'), /npm run build:native/);
  });

  it('mknod creates fifos and character devices', async (t) => {
    const dir = await tempDir(t);
    mknod(join(dir, 'fifo'), S_IFIFO | 0o640, 0, 0);
    mknod(join(dir, 'null'), S_IFCHR | 0o666, 1, 3);
    assert.ok((await lstat(join(dir, 'fifo'))).isFIFO());
    const dev = await lstat(join(dir, 'null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, (1 << 8) | 3);
  });

  it('sets, reads and lists xattrs without following symlinks', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'f');
    await writeFile(file, '');
    const value = Buffer.from([0, 1, 2, 255]);
    lsetxattr(file, 'user.berth', value);
    lsetxattr(file, 'trusted.berth', Buffer.from('t'));
    assert.deepEqual(lgetxattr(file, 'user.berth'), value);
    assert.equal(lgetxattr(file, 'user.absent'), null);
    assert.deepEqual(llistxattr(file).sort(), ['trusted.berth', 'user.berth']);
    lsetxattr(file, 'user.empty', Buffer.alloc(0));
    assert.deepEqual(lgetxattr(file, 'user.empty'), Buffer.alloc(0));
  });

  it('throws errors carrying the errno name and the syscall', async (t) => {
    const dir = await tempDir(t);
    const missing = join(dir, 'missing', 'x');
    assert.throws(
      () => mknod(missing, S_IFIFO | 0o600, 0, 0),
      (err: unknown) => isSysError(err, 'ENOENT') && err.syscall === 'mknod' && err.message.includes(missing),
    );
    assert.throws(() => lgetxattr(missing, 'user.x'), (err: unknown) => isSysError(err, 'ENOENT') && err.syscall === 'lgetxattr');
    assert.throws(() => llistxattr(missing), (err: unknown) => isSysError(err, 'ENOENT'));
    await writeFile(join(dir, 'exists'), '');
    assert.throws(() => mknod(join(dir, 'exists'), S_IFIFO | 0o600, 0, 0), (err: unknown) => isSysError(err, 'EEXIST'));
    assert.throws(() => umount2(dir, 0), (err: unknown) => isSysError(err, 'EINVAL') && err.syscall === 'umount2');
    assert.throws(() => mount(null, join(dir, 'nope'), 'tmpfs', 0, null), (err: unknown) => isSysError(err) && err.syscall === 'mount');
  });

  it('mounts tmpfs and bind mounts, remounts read-only and unmounts', async (t) => {
    const dir = await tempDir(t);
    const target = join(dir, 'mnt');
    const bind = join(dir, 'bind');
    await mkdir(target);
    await mkdir(bind);
    t.after(() => {
      for (const path of [bind, target]) {
        try {
          umount2(path, MNT_DETACH);
        } catch {
          // already unmounted
        }
      }
    });
    mount('tmpfs', target, 'tmpfs', 0, 'size=1m,mode=0700');
    await writeFile(join(target, 'inside'), 'on tmpfs');
    assert.equal((await lstat(target)).mode & 0o777, 0o700);
    mount(target, bind, null, MS_BIND, null);
    assert.deepEqual(await readdir(bind), ['inside']);
    mount(null, bind, null, MS_REMOUNT | MS_BIND | MS_RDONLY, null);
    await assert.rejects(writeFile(join(bind, 'ro'), 'x'), { code: 'EROFS' });
    umount2(bind, 0);
    umount2(target, 0);
    assert.deepEqual(await readdir(target), []);
  });
});
