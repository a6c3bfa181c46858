/**
 * Images whose layers try to write outside the snapshot root (../, absolute
 * names, symlink chains, hardlinks to host files), carry device nodes or
 * xattrs too big for any filesystem, pushed to a real registry and pulled
 * through the CRI. Each is refused or confined: nothing appears outside the
 * snapshot root, and a container of a confined image cannot see host files.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { busyboxLayer, rawLayer, type RawEntry } from '../support/hostile-layers.js';
import { buildImage, pushImage, type BuiltLayer } from '../support/oci-image.js';

const TOKEN = `berth-canary-${process.pid}`;
const HOST_TMP = tmpdir();
const SECRET_FILE = join(HOST_TMP, `berth-host-secret-${process.pid}`);
const CLIMB = '../'.repeat(16);

/** Every path under `dir` whose name contains TOKEN (symlinks not followed). */
async function canaries(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.name.includes(TOKEN)) found.push(path);
      if (e.isDirectory()) await walk(path);
    }
  };
  await walk(dir);
  return found;
}

/** Host places a hostile layer aims at; none may ever hold a canary. */
async function hostCanaries(): Promise<string[]> {
  return (await readdir(HOST_TMP)).filter((n) => n.includes(TOKEN)).map((n) => join(HOST_TMP, n));
}

describe('reliability: hostile image layers', () => {
  let node: TestNode;
  let base: BuiltLayer;
  let passwdLinks: number;
  const secret = `host secret ${randomBytes(8).toString('hex')}`;

  before(async () => {
    node = await startNode({ netIndex: 41, images: ['pause'] });
    base = await busyboxLayer();
    passwdLinks = statSync('/etc/passwd').nlink;
    await writeFile(SECRET_FILE, secret);
  });

  after(async () => {
    await node?.stop();
    await rm(SECRET_FILE, { force: true });
    for (const path of await hostCanaries()) await rm(path, { recursive: true, force: true });
  });

  async function push(name: string, layers: BuiltLayer[]): Promise<string> {
    const image = buildImage(layers, { cmd: ['sleep', '3600'] });
    await pushImage(node.registry.host, `hostile/${name}`, 'v1', image);
    return `${node.registry.host}/hostile/${name}:v1`;
  }

  it('refuses layers that climb out of the root, link to host files or carry impossible xattrs', async () => {
    const refused: Record<string, { entries: RawEntry[]; message: RegExp }> = {
      'dotdot': { entries: [{ type: 'file', name: `${CLIMB}tmp/${TOKEN}-dotdot`, content: 'escaped' }], message: /climbs out of the layer root/ },
      'dotdot-inside': { entries: [{ type: 'file', name: `a/../../${TOKEN}-up`, content: 'escaped' }], message: /climbs out of the layer root/ },
      'absolute': { entries: [{ type: 'file', name: `${HOST_TMP}/${TOKEN}-abs`, content: 'escaped' }], message: /absolute paths are not allowed/ },
      'hardlink-dotdot': { entries: [{ type: 'link', name: `${TOKEN}-passwd`, linkname: `${CLIMB}etc/passwd` }], message: /climbs out of the layer root/ },
      'hardlink-absolute': { entries: [{ type: 'link', name: `${TOKEN}-passwd`, linkname: '/etc/passwd' }], message: /absolute paths are not allowed/ },
      'hardlink-via-symlink': {
        entries: [
          { type: 'symlink', name: 'etc-host', linkname: '/etc' },
          { type: 'link', name: `${TOKEN}-passwd`, linkname: 'etc-host/passwd' },
        ],
        message: /does not exist in the layer/,
      },
      'whiteout-dotdot': { entries: [{ type: 'file', name: 'x/.wh...', content: '' }], message: /invalid whiteout name/ },
      'giant-xattr': {
        entries: [{ type: 'file', name: 'big', content: 'x', pax: { 'SCHILY.xattr.user.big': 'x'.repeat(100_000) } }],
        message: /cannot set xattr "user.big" of 100000 bytes/,
      },
      'oversized-pax': {
        entries: [{ type: 'file', name: 'huge', content: 'x', pax: { 'SCHILY.xattr.user.huge': 'x'.repeat(1_500_000) } }],
        message: /PAX header of \d+ bytes/,
      },
    };
    const imagesBefore = (await node.daemon.cri.image.ListImages({})).images.map((i) => i.id);
    for (const [name, { entries, message }] of Object.entries(refused)) {
      const ref = await push(name, [base, await rawLayer(entries)]);
      await assert.rejects(node.daemon.cri.image.PullImage({ image: { image: ref } }), (err: { code?: number; details?: string }) => {
        assert.equal(GrpcStatus[err.code ?? -1], 'INVALID_ARGUMENT', `${name}: ${err.details}`);
        assert.match(err.details ?? '', message, name);
        return true;
      });
      assert.deepEqual(await hostCanaries(), [], `${name} wrote outside the snapshot root`);
      assert.deepEqual(await canaries(node.daemon.dirs.root), [], `${name} left files in berth's root`);
      assert.equal(statSync('/etc/passwd').nlink, passwdLinks, `${name} linked to /etc/passwd`);
    }
    assert.deepEqual((await node.daemon.cri.image.ListImages({})).images.map((i) => i.id), imagesBefore, 'no refused image is listed');
    console.log(`reliability: hostile-layer: ${Object.keys(refused).length} hostile layers refused`);
  });

  it('confines symlink chains out of the root and device nodes, and a container of the image cannot see host files', async () => {
    const ref = await push('confined', [
      base,
      await rawLayer([
        { type: 'symlink', name: 'a', linkname: 'b' },
        { type: 'symlink', name: 'b', linkname: `${CLIMB}tmp` },
        { type: 'file', name: `a/${TOKEN}-chain`, content: 'confined' },
        { type: 'symlink', name: 'hostroot', linkname: '/' },
        { type: 'file', name: `hostroot/tmp/${TOKEN}-abslink`, content: 'confined' },
        { type: 'character-device', name: 'dev-mem', major: 1, minor: 1 },
        { type: 'block-device', name: 'dev-sda', major: 8, minor: 0 },
      ]),
      // A later layer writing through the symlink an earlier one left.
      await rawLayer([{ type: 'file', name: `hostroot/tmp/${TOKEN}-cross-layer`, content: 'confined' }]),
    ]);
    const { image_ref } = await node.daemon.cri.image.PullImage({ image: { image: ref } });
    assert.deepEqual(await hostCanaries(), [], 'a symlink led a write outside the snapshot root');
    const inRoot = await canaries(join(node.daemon.dirs.root, 'snapshots'));
    assert.ok(inRoot.length >= 2 && inRoot.every((p) => /\/snapshots\/[^/]+\/fs\//.test(p)), `confined copies: ${inRoot.join(', ')}`);

    const pod = podConfig(node);
    const podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
    const container_id = await runInPod(node.daemon, podId, pod, 'confined', { image: { image: image_ref } });
    const exec = (cmd: string[]) => node.daemon.cri.runtime.ExecSync({ container_id, cmd, timeout: 30 });

    for (const path of [`/hostroot${SECRET_FILE}`, `/a/../..${SECRET_FILE}`, SECRET_FILE]) {
      const res = await exec(['cat', path]);
      assert.notEqual(res.exit_code, 0, `${path} readable in the container`);
      assert.ok(!Buffer.from(res.stdout).toString().includes(secret), `${path} showed the host's secret`);
    }
    const inside = await exec(['cat', `/tmp/${TOKEN}-chain`, `/tmp/${TOKEN}-abslink`]);
    assert.equal(inside.exit_code, 0, Buffer.from(inside.stderr).toString());
    assert.equal(Buffer.from(inside.stdout).toString(), 'confinedconfined');
    for (const device of ['/dev-mem', '/dev-sda']) {
      const res = await exec(['head', '-c', '1', device]);
      assert.notEqual(res.exit_code, 0, `${device} readable in the container`);
      assert.match(Buffer.from(res.stderr).toString(), /Operation not permitted/, device);
    }

    await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id: podId });
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: podId });
    await node.daemon.cri.image.RemoveImage({ image: { image: image_ref } });
    assert.deepEqual(await canaries(join(node.daemon.dirs.root, 'snapshots')), [], 'removing the image removed its snapshots');
    assert.ok(existsSync(SECRET_FILE));
    console.log(`reliability: hostile-layer: symlink chains, absolute symlinks and device nodes confined, 0 escapes`);
  });
});
