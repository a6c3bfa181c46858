import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allHostDevices, hostDeviceAt, splitDeviceNumber } from '../../src/core/runtime/host-devices.js';
import { checkPropagation, mountContaining } from '../../src/core/runtime/mount-propagation.js';
import { parseMountInfo } from '../../src/core/sys/mountinfo.js';
import { FailedPreconditionError } from '../../src/core/errors.js';
import { featureMountOptions, kernelAtLeast } from '../../src/core/runtime/runtime-features.js';

const MOUNTINFO = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '30 27 0:26 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
  '40 27 254:0 /tmp/a/mnt /tmp/a/mnt rw,relatime shared:51 - ext4 /dev/vda rw',
  '41 27 254:0 /tmp/b/mnt /tmp/b/mnt rw,relatime master:51 - ext4 /dev/vda rw',
  '42 27 254:0 /tmp/with\\040space /tmp/with\\040space rw,relatime shared:52 master:7 - ext4 /dev/vda rw',
  '43 40 254:0 /tmp/x /tmp/a/mnt rw,relatime - ext4 /dev/vda rw',
  'garbage line',
  '',
].join('\n');

describe('mountinfo', () => {
  const infos = parseMountInfo(MOUNTINFO);
  it('parses mount points (octal escapes undone) and optional fields; skips malformed lines', () => {
    assert.equal(infos.length, 6);
    assert.deepEqual(infos[2], { mountPoint: '/tmp/a/mnt', optional: ['shared:51'] });
    assert.deepEqual(infos[4], { mountPoint: '/tmp/with space', optional: ['shared:52', 'master:7'] });
    assert.deepEqual(infos[0]!.optional, []);
  });
  it('finds the mount holding a path: longest mount point, the later of two at one place', () => {
    assert.equal(mountContaining('/var/lib', infos)?.mountPoint, '/');
    assert.equal(mountContaining('/proc/self', infos)?.mountPoint, '/proc');
    assert.equal(mountContaining('/tmp/b/mnt/deep/er', infos)?.mountPoint, '/tmp/b/mnt');
    assert.equal(mountContaining('/tmp/b/mntx', infos)?.mountPoint, '/');
    // 43 is mounted over 40 at /tmp/a/mnt, and is private.
    assert.deepEqual(mountContaining('/tmp/a/mnt/sub', infos)?.optional, []);
  });
});

describe('propagation precondition (as containerd ensureShared / ensureSharedOrSlave)', () => {
  const infos = parseMountInfo(MOUNTINFO);
  const none = new Map<string, string>();
  const check = (host_path: string, propagation: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL', resolved = none) =>
    checkPropagation([{ host_path, propagation }], resolved, infos);
  const refused = (re: RegExp) => (e: unknown) => e instanceof FailedPreconditionError && re.test(e.message);
  it('private mounts need nothing', () => assert.doesNotThrow(() => check('/var/lib', 'PROPAGATION_PRIVATE')));
  it('Bidirectional needs a shared mount', () => {
    assert.doesNotThrow(() => check('/tmp/with space/v', 'PROPAGATION_BIDIRECTIONAL'));
    assert.throws(() => check('/tmp/b/mnt', 'PROPAGATION_BIDIRECTIONAL'), refused(/Bidirectional.*\/tmp\/b\/mnt, which is not shared/));
    assert.throws(() => check('/var/lib', 'PROPAGATION_BIDIRECTIONAL'), refused(/on mount \/, which is not shared/));
  });
  it('HostToContainer needs a shared or slave mount', () => {
    assert.doesNotThrow(() => check('/tmp/b/mnt/v', 'PROPAGATION_HOST_TO_CONTAINER'));
    assert.doesNotThrow(() => check('/tmp/with space', 'PROPAGATION_HOST_TO_CONTAINER'));
    assert.throws(() => check('/srv', 'PROPAGATION_HOST_TO_CONTAINER'), refused(/neither shared nor slave/));
  });
  it('judges the symlink-free path', () => {
    assert.doesNotThrow(() => check('/link', 'PROPAGATION_BIDIRECTIONAL', new Map([['/link', '/tmp/with space/v']])));
  });
});

describe('host devices', () => {
  it('splits dev_t as glibc does', () => {
    assert.deepEqual(splitDeviceNumber(0x103n), { major: 1, minor: 3 });
    assert.deepEqual(splitDeviceNumber(0x801n), { major: 8, minor: 1 });
    // glibc's makedev, so large numbers (both need the high bits) round-trip.
    const makedev = (major: bigint, minor: bigint) => ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
    assert.deepEqual(splitDeviceNumber(makedev(259n, 65536n)), { major: 259, minor: 65536 });
    assert.deepEqual(splitDeviceNumber(makedev(4096n, 300n)), { major: 4096, minor: 300 });
  });
  it('stats a device node, and nothing else', async () => {
    assert.deepEqual(await hostDeviceAt('/dev/null'), { hostPath: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
    assert.equal(await hostDeviceAt('/etc/hostname'), undefined);
    assert.equal(await hostDeviceAt('/nonexistent/dev'), undefined);
  });
  it('lists /dev for privileged containers: device nodes only, not /dev/pts, /dev/shm or the console', async () => {
    const devices = await allHostDevices();
    assert.ok(devices.some((d) => d.path === '/dev/null' && d.type === 'c' && d.major === 1 && d.minor === 3));
    assert.ok(devices.some((d) => d.path === '/dev/zero'));
    assert.ok(!devices.some((d) => d.path.startsWith('/dev/pts/') || d.path.startsWith('/dev/shm/') || d.path === '/dev/console'));
    assert.ok(!devices.some((d) => d.path === '/dev/fd' || d.path === '/dev/stdin'), 'symlinks are left out');
  });
});

describe('runtime handler features', () => {
  it('reads the mount options of `<runtime> features`', () => {
    assert.deepEqual(featureMountOptions('{"ociVersionMin":"1.0.0","mountOptions":["bind","rro","rrw"]}'), ['bind', 'rro', 'rrw']);
    assert.deepEqual(featureMountOptions('{"ociVersionMin":"1.0.0"}'), []);
    assert.deepEqual(featureMountOptions('Usage: crun [OPTION...]'), []);
  });
  it('compares kernel releases (mount_setattr, hence rro, needs 5.12)', () => {
    assert.ok(kernelAtLeast('6.18.44-fc-v509', 5, 12));
    assert.ok(kernelAtLeast('5.12.0', 5, 12));
    assert.ok(!kernelAtLeast('5.10.0-28-amd64', 5, 12));
    assert.ok(!kernelAtLeast('4.19.0', 5, 12));
    assert.ok(!kernelAtLeast('garbage', 5, 12));
  });
});
