import assert from 'node:assert/strict';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FailedPreconditionError } from '../../src/core/errors.js';
import { lgetxattr, lsetxattr, mknod, S_IFCHR, S_IFIFO } from '../../src/core/sys/native.js';
import { copyDirectoryContents } from '../../src/core/util/copy-tree.js';
import { imageVolumeBinds, populateImageVolumes } from '../../src/cri/image-volumes.js';
import type { Mount__Output } from '../../src/gen/cri/runtime/v1/Mount.js';

const criMount = (container_path: string) => ({ container_path, host_path: '/host' }) as Mount__Output;

describe('imageVolumeBinds', () => {
  it('gives each uncovered, cleaned path its own directory under the volumes dir, in path order', () => {
    const binds = imageVolumeBinds({ '/var/lib/db/': {}, 'cache': {}, '/data': {}, '/data/.': {}, '/': {}, '/logs': {} }, [criMount('/logs/')], '/c/volumes');
    assert.deepEqual(binds.map((b) => b.containerPath), ['/cache', '/data', '/var/lib/db']);
    assert.equal(new Set(binds.map((b) => b.hostPath)).size, 3);
    for (const b of binds) assert.match(b.hostPath, /^\/c\/volumes\/[0-9a-f]{32}$/);
  });

  it('gives none for an image without volumes, and refuses a path with a NUL byte', () => {
    assert.deepEqual(imageVolumeBinds(undefined, [], '/c/volumes'), []);
    assert.throws(() => imageVolumeBinds({ '/da\0ta': {} }, [], '/c/volumes'), FailedPreconditionError);
  });
});

describe('copying an image directory into a volume', () => {
  let dir: string;
  let rootfs: string;
  let outside: string;
  let volumes: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-image-volumes-'));
    rootfs = join(dir, 'rootfs');
    outside = join(dir, 'outside');
    volumes = join(dir, 'volumes');
    await mkdir(join(rootfs, 'data', 'sub'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, 'host-secret'), 'host\n');
    await writeFile(join(rootfs, 'data', 'tool'), 'x');
    await chown(join(rootfs, 'data', 'tool'), 1000, 1001);
    await chmod(join(rootfs, 'data', 'tool'), 0o4750);
    await link(join(rootfs, 'data', 'tool'), join(rootfs, 'data', 'sub', 'tool-link'));
    await symlink('/etc/passwd', join(rootfs, 'data', 'abs-link'));
    mknod(join(rootfs, 'data', 'pipe'), S_IFIFO | 0o600, 0, 0);
    mknod(join(rootfs, 'data', 'null'), S_IFCHR | 0o666, 1, 3);
    lsetxattr(join(rootfs, 'data', 'tool'), 'user.origin', Buffer.from('image'));
    lsetxattr(join(rootfs, 'data', 'tool'), 'security.selinux', Buffer.from('system_u:object_r:image_t:s0'));
    await chown(join(rootfs, 'data'), 1000, 1000);
    await chmod(join(rootfs, 'data'), 0o750);
    await utimes(join(rootfs, 'data'), new Date(1_000_000), new Date(2_000_000));
    // Paths whose symlinks lead out of the rootfs, and a file where a volume is declared.
    // Followed on the host, ../outside and the absolute path would reach dir/outside and its host-secret.
    await symlink('../outside', join(rootfs, 'climb'));
    await symlink('/', join(rootfs, 'to-root'));
    await symlink(outside, join(rootfs, 'absolute'));
    await writeFile(join(rootfs, 'file'), 'not a directory');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps types, owners, modes, set-id bits, times, xattrs and hard links, and copies symlinks as they are', async () => {
    const target = join(dir, 'copy');
    await mkdir(target);
    await copyDirectoryContents(join(rootfs, 'data'), target);
    const top = await stat(target);
    assert.deepEqual([top.uid, top.gid, top.mode & 0o7777, top.mtimeMs], [1000, 1000, 0o750, 2_000_000]);
    const tool = await stat(join(target, 'tool'));
    assert.deepEqual([tool.uid, tool.gid, tool.mode & 0o7777, tool.nlink], [1000, 1001, 0o4750, 2]);
    assert.equal((await stat(join(target, 'sub', 'tool-link'))).ino, tool.ino);
    assert.equal(lgetxattr(join(target, 'tool'), 'user.origin')?.toString(), 'image');
    assert.equal(await readlink(join(target, 'abs-link')), '/etc/passwd');
    assert.ok((await lstat(join(target, 'pipe'))).isFIFO());
    const device = await lstat(join(target, 'null'));
    assert.ok(device.isCharacterDevice());
    assert.equal(device.rdev, (await lstat('/dev/null')).rdev, 'major 1, minor 3');
  });

  it('resolves volume paths inside the rootfs: symlinks out of it land back in it', async () => {
    const binds = [
      { containerPath: '/data', hostPath: join(volumes, 'data') },
      { containerPath: '/climb', hostPath: join(volumes, 'climb') },
      { containerPath: '/absolute', hostPath: join(volumes, 'absolute') },
      { containerPath: '/missing/deeper', hostPath: join(volumes, 'missing') },
    ];
    await populateImageVolumes(rootfs, binds);
    assert.equal(await readFile(join(volumes, 'data', 'tool'), 'utf8'), 'x');
    assert.equal(lgetxattr(join(volumes, 'data', 'tool'), 'user.origin')?.toString(), 'image');
    assert.equal(lgetxattr(join(volumes, 'data', 'tool'), 'security.selinux'), null, 'the SELinux label is not copied into a volume');
    // ../outside and /<dir>/outside resolve to rootfs paths, which do not exist: empty volumes.
    for (const name of ['climb', 'absolute', 'missing']) {
      assert.deepEqual(await readdir(join(volumes, name)), [], `${name} holds nothing from the host`);
      const st = await stat(join(volumes, name));
      assert.deepEqual([st.uid, st.mode & 0o7777], [0, 0o755]);
    }
  });

  it('refuses a volume where the image holds a file, and one that leads to the image root', async () => {
    await assert.rejects(
      populateImageVolumes(rootfs, [{ containerPath: '/file', hostPath: join(volumes, 'file') }]),
      (err: Error) => err instanceof FailedPreconditionError && /volume at \/file/.test(err.message),
    );
    await assert.rejects(
      populateImageVolumes(rootfs, [{ containerPath: '/to-root', hostPath: join(volumes, 'to-root') }]),
      (err: Error) => err instanceof FailedPreconditionError && /leads to the image's root/.test(err.message),
    );
    assert.deepEqual(await readdir(join(volumes, 'to-root')), [], 'nothing of the image was copied');
  });
});
