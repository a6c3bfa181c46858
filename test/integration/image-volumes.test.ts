/**
 * Volumes an image declares (test/support/volume-image.ts): each gets a directory of its own under the
 * container's directory, filled from the image and bound read-write (even
 * over a read-only rootfs), as containerd's CRI plugin does; a CRI mount at
 * the same path wins; the directories go with the container; with
 * `ignore_image_defined_volume = true` they stay plain rootfs paths.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { chainIds } from '../../src/core/images/chain-id.js';
import { startDaemon } from '../support/daemon.js';
import { readMetadata } from '../support/metadata-db.js';
import { podConfig, removeAllPods, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { busyboxLayer } from '../support/hostile-layers.js';
import { buildImage, buildLayer, pushImage } from '../support/oci-image.js';
import { eventually } from '../support/wait.js';
import { volumeImage } from '../support/volume-image.js';

const IMAGE = 'volumes:1';
const BAD_IMAGE = 'volumes:file';

describe('volumes an image declares', () => {
  let node: TestNode;
  const cri = () => node.daemon.cri.runtime;
  const volumesOf = (id: string) => join(node.daemon.dirs.root, 'containers', id, 'volumes');

  const metadataRows = (sql: string, ...params: unknown[]) => readMetadata(node.daemon.dirs.root, (db) => db.prepare(sql).all(...params));

  async function sh(id: string, script: string) {
    const res = await cri().ExecSync({ container_id: id, cmd: ['sh', '-c', script], timeout: 10 });
    return { code: res.exit_code, out: res.stdout.toString(), err: res.stderr.toString() };
  }

  before(async () => {
    node = await startNode({ netIndex: 11 });
    await pushImage(node.registry.host, 'library/volumes', '1', await volumeImage(['/data', '/cache/', '/linked']));
    // /data is filled before /notadir fails: nothing of it may stay.
    await pushImage(node.registry.host, 'library/volumes', 'file', await volumeImage(['/data', '/notadir']));
    await node.daemon.cri.image.PullImage({ image: { image: IMAGE } });
    await node.daemon.cri.image.PullImage({ image: { image: BAD_IMAGE } });
  });

  after(async () => {
    await node?.stop();
  });

  it('fills each volume from the image and binds it read-write over a read-only rootfs', async () => {
    const pod = podConfig(node);
    const podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
    const id = await runInPod(node.daemon, podId, pod, 'reader', { image: { image: IMAGE }, linux: { security_context: { readonly_rootfs: true } } });

    const listing = await sh(id, 'cat /data/seed.txt; readlink /data/sub/seed-link; cat /linked/inside.txt; stat -c "%u:%g %a" /data /data/seed.txt');
    assert.equal(listing.code, 0, listing.err);
    assert.equal(listing.out, 'from-image\n../seed.txt\nbehind-a-symlink\n1000:1000 750\n1000:1000 640\n');
    const writes = await sh(id, 'echo new > /data/new.txt && echo c > /cache/c.txt && echo l > /linked/l.txt && ! touch /rootfs-write 2>/dev/null');
    assert.equal(writes.code, 0, `volumes writable, rootfs read-only: ${writes.err}`);

    // The writes landed in the container's volume directories, one per declared path, out of other users' reach.
    for (const dir of [join(node.daemon.dirs.root, 'containers'), join(node.daemon.dirs.root, 'containers', id)]) {
      assert.equal(statSync(dir).mode & 0o777, 0o700, `${dir} is private`);
    }
    const dirs = readdirSync(volumesOf(id)).map((name) => join(volumesOf(id), name));
    assert.equal(dirs.length, 3);
    const holding = (file: string) => dirs.filter((dir) => existsSync(join(dir, file)));
    assert.equal(holding('new.txt').length, 1);
    assert.equal(readFileSync(join(holding('new.txt')[0]!, 'seed.txt'), 'utf8'), 'from-image\n');
    assert.equal(statSync(holding('new.txt')[0]!).uid, 1000);
    assert.equal(holding('c.txt').length, 1);
    assert.deepEqual(readdirSync(holding('l.txt')[0]!).sort(), ['inside.txt', 'l.txt']);

    await cri().StopContainer({ container_id: id, timeout: '0' });
    await cri().RemoveContainer({ container_id: id });
    assert.ok(!existsSync(join(node.daemon.dirs.root, 'containers', id)), 'the volumes go with the container');
  });

  it('leaves a path to a CRI mount at the same place, and refuses a volume the image holds a file at', async () => {
    const hostDir = await mkdtemp(join(tmpdir(), 'berth-volume-mount-'));
    try {
      await writeFile(join(hostDir, 'host.txt'), 'from-host\n');
      const pod = podConfig(node);
      const podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
      const id = await runInPod(node.daemon, podId, pod, 'mounted', { image: { image: IMAGE }, mounts: [{ container_path: '/data/', host_path: hostDir }] });
      const res = await sh(id, 'ls /data');
      assert.equal(res.out, 'host.txt\n');
      assert.equal(readdirSync(volumesOf(id)).length, 2, 'only /cache and /linked get directories');

      const before = (await cri().ListContainers({})).containers.length;
      await assert.rejects(
        runInPod(node.daemon, podId, pod, 'bad', { image: { image: BAD_IMAGE } }),
        (err: Error & { code?: number }) => err.code === GrpcStatus.FAILED_PRECONDITION && /volume at \/notadir/.test(err.message),
      );
      assert.equal((await cri().ListContainers({})).containers.length, before, 'no container is left');
      const ids = readdirSync(join(node.daemon.dirs.root, 'containers'));
      assert.deepEqual(ids, [id], 'no volume directory is left');
    } finally {
      await removeAllPods(node.daemon);
      await rm(hostDir, { recursive: true, force: true });
    }
  });

  it('mounts an image read-only, whole or at a sub path (kubelet ImageVolume), and lets go of it with the container', async () => {
    const imageId = (await node.daemon.cri.image.ImageStatus({ image: { image: BAD_IMAGE } })).image!.id;
    const imageMount = (container_path: string, image_sub_path = '') => ({ container_path, image: { image: imageId }, image_sub_path });
    const mountsUnderRoot = () =>
      readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(`${node.daemon.dirs.root}/containers/`));
    const pod = podConfig(node);
    const podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
    const id = await runInPod(node.daemon, podId, pod, 'image-mounts', {
      image: { image: IMAGE },
      mounts: [imageMount('/mnt/whole'), imageMount('/mnt/dir', 'linked'), imageMount('/mnt/seed.txt', 'data/seed.txt'), imageMount('/mnt/abs.txt', 'data/seed-link-abs')],
    });
    const res = await sh(id, 'cat /mnt/whole/srv/real/inside.txt /mnt/dir/inside.txt /mnt/seed.txt /mnt/abs.txt');
    assert.equal(res.code, 0, res.err);
    assert.equal(res.out, 'behind-a-symlink\nbehind-a-symlink\nfrom-image\nfrom-image\n');
    const writes = await sh(id, 'touch /mnt/whole/x || touch /mnt/dir/x || echo x >> /mnt/seed.txt || echo x >> /mnt/abs.txt || echo all-refused');
    assert.match(writes.out, /^all-refused\n$/, 'every image mount, whole or sub path, is read-only');
    assert.match((await sh(id, 'grep " /mnt/whole " /proc/mounts')).out, / ro[, ]/);
    const reported = (await cri().ContainerStatus({ container_id: id })).status!.mounts.map((m) => [m.container_path, m.image?.image, m.image_sub_path]);
    assert.deepEqual(reported, [
      ['/mnt/whole', imageId, ''],
      ['/mnt/dir', imageId, 'linked'],
      ['/mnt/seed.txt', imageId, 'data/seed.txt'],
      ['/mnt/abs.txt', imageId, 'data/seed-link-abs'],
    ]);
    assert.equal(mountsUnderRoot().length, 4, 'one host mount per image mount');

    const refused = async (mount: object, code: number, message: RegExp) =>
      assert.rejects(runInPod(node.daemon, podId, pod, 'refused', { image: { image: IMAGE }, mounts: [imageMount('/mnt/ok'), mount] }), (err: Error & { code?: number }) => err.code === code && message.test(err.message));
    await refused(imageMount('/mnt/missing', 'no/such/dir'), GrpcStatus.INVALID_ARGUMENT, /does not exist in the image/);
    // Each would reach the host's /etc/hostname if symlinks were followed on the host.
    for (const escape of ['../../../../etc/hostname', 'data/sub/up/hostname', 'data/host-file']) {
      await refused(imageMount('/mnt/escape', escape), GrpcStatus.INVALID_ARGUMENT, /neither a directory nor a file|does not exist/);
    }
    await refused({ container_path: '/mnt/absent', image: { image: 'never-pulled:1' } }, GrpcStatus.NOT_FOUND, /never-pulled/);
    await refused({ container_path: '/mnt/both', host_path: '/tmp', image: { image: imageId } }, GrpcStatus.INVALID_ARGUMENT, /mutually exclusive/);
    assert.equal(mountsUnderRoot().length, 4, 'a refused container leaves no image mounted');

    await cri().StopContainer({ container_id: id, timeout: '0' });
    await cri().RemoveContainer({ container_id: id });
    assert.deepEqual(mountsUnderRoot(), [], 'the image mounts go with the container');
    await removeAllPods(node.daemon);
    assert.deepEqual(readdirSync(join(node.daemon.dirs.root, 'containers')), []);
    assert.deepEqual(metadataRows("SELECT key FROM snapshots WHERE kind = 'view'"), [], 'no view snapshot is left');
  });

  it('keeps an image mount across a restart, and the layers of an image removed while mounted until the container goes', async () => {
    const unique = await buildImage([await busyboxLayer(['sh', 'cat', 'sleep']), await buildLayer([{ type: 'file', name: 'only-here.txt', content: 'mounted\n' }])], { cmd: ['sleep', '3600'] });
    await pushImage(node.registry.host, 'library/mounted', '1', unique);
    await node.daemon.cri.image.PullImage({ image: { image: 'mounted:1' } });
    const topSnapshot = chainIds(unique.layers.map((l) => l.diffId)).at(-1)!;
    const uniqueBlob = join(node.daemon.dirs.root, 'content', 'blobs', 'sha256', unique.layers[1]!.digest.slice('sha256:'.length));
    const committed = (key: string) => metadataRows("SELECT key FROM snapshots WHERE key = ? AND kind = 'committed'", key).length;
    const pod = podConfig(node);
    const podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
    const id = await runInPod(node.daemon, podId, pod, 'mounting', { image: { image: IMAGE }, mounts: [{ container_path: '/mnt/m', image: { image: 'mounted:1' } }] });

    await node.daemon.cri.image.RemoveImage({ image: { image: 'mounted:1' } });
    assert.equal(committed(topSnapshot), 1, 'the mounted image keeps its layers');
    const dirs = node.daemon.dirs;
    await node.daemon.stop();
    node.daemon.cri.close();
    node.daemon = await startDaemon({ dirs });
    assert.equal((await sh(id, 'cat /mnt/m/only-here.txt')).out, 'mounted\n', 'the mount outlives a restart');
    assert.equal(committed(topSnapshot), 1, 'the start-up sweep leaves a live container\'s view');

    await cri().StopContainer({ container_id: id, timeout: '0' });
    await cri().RemoveContainer({ container_id: id });
    await eventually(() => assert.equal(committed(topSnapshot), 0), 'the removed image\'s layers are collected once its last mount goes');
    assert.ok(!existsSync(uniqueBlob), 'and its layer blob');
    await removeAllPods(node.daemon);
  });

  it('keeps volumes across a restart; with ignore_image_defined_volume new containers get none', async () => {
    const pod = podConfig(node);
    const podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
    const kept = await runInPod(node.daemon, podId, pod, 'kept', { image: { image: IMAGE } });
    assert.equal((await sh(kept, 'echo before > /data/before.txt')).code, 0);

    const dirs = node.daemon.dirs;
    await node.daemon.stop();
    node.daemon.cri.close();
    await writeFile(dirs.configPath, `ignore_image_defined_volume = true\n${readFileSync(dirs.configPath, 'utf8')}`);
    node.daemon = await startDaemon({ dirs });

    assert.equal((await sh(kept, 'cat /data/before.txt')).out, 'before\n');
    const plain = await runInPod(node.daemon, podId, pod, 'plain', { image: { image: IMAGE } });
    const mounts = await sh(plain, 'grep -c " /data " /proc/mounts');
    assert.equal(mounts.out, '0\n', 'no volume is mounted at /data');
    assert.equal((await sh(plain, 'cat /data/seed.txt')).out, 'from-image\n');
    assert.ok(!existsSync(join(dirs.root, 'containers', plain)));
    await removeAllPods(node.daemon);
    assert.deepEqual(readdirSync(join(dirs.root, 'containers')), []);
  });
});
