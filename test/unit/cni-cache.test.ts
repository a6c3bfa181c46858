import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ResultCache, type CacheEntry } from '../../src/cni/cache.js';
import { KeyedLock } from '../../src/cni/keyed-lock.js';
import { toCniPortMappings } from '../../src/cni/manager.js';

const root = mkdtempSync(path.join(tmpdir(), 'berth-cni-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

function entry(network: string, containerId: string, withResult: boolean): CacheEntry {
  return {
    kind: 'berthCniCacheV1',
    config: { name: network, cniVersion: '1.0.0', disableCheck: false, plugins: [{ type: 'bridge', bridge: 'b0' }], source: '/etc/x.conflist' },
    runtime: { containerId, netnsPath: '/var/run/netns/x', ifName: 'eth0', args: [['K8S_POD_NAME', 'p']], capabilityArgs: { portMappings: [] } },
    ...(withResult ? { result: { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] } } : {}),
  };
}

test('entries round-trip and are found by container whatever the network name', async () => {
  const cache = new ResultCache(path.join(root, 'a', 'results'));
  assert.deepEqual(await cache.findForContainer('c1', 'eth0'), []);
  await cache.write(entry('my-net-with-dashes', 'c1', false));
  await cache.write(entry('my-net-with-dashes', 'c1', true)); // overwrite in place
  await cache.write(entry('other', 'c11', true));
  const found = await cache.findForContainer('c1', 'eth0');
  assert.equal(found.length, 1);
  assert.deepEqual(found[0], entry('my-net-with-dashes', 'c1', true));
  assert.deepEqual(readdirSync(cache.dir).sort(), ['my-net-with-dashes-c1-eth0', 'other-c11-eth0']);
  await cache.remove('my-net-with-dashes', 'c1', 'eth0');
  await cache.remove('my-net-with-dashes', 'c1', 'eth0'); // idempotent
  assert.deepEqual(await cache.findForContainer('c1', 'eth0'), []);
  assert.equal((await cache.findForContainer('c11', 'eth0')).length, 1);
});

test('a corrupt entry is reported with its path', async () => {
  const cache = new ResultCache(path.join(root, 'b'));
  await cache.write(entry('n', 'c2', true));
  writeFileSync(cache.fileFor('n', 'c2', 'eth0'), '{"half');
  await assert.rejects(cache.findForContainer('c2', 'eth0'), /n-c2-eth0 is corrupt/);
});

test('KeyedLock serialises per key and lets other keys through', async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  let releaseFirst!: () => void;
  const gate = new Promise<void>((r) => (releaseFirst = r));
  const a1 = lock.run('a', async () => {
    order.push('a1 start');
    await gate;
    order.push('a1 end');
  });
  const a2 = lock.run('a', async () => {
    order.push('a2');
  });
  const b = lock.run('b', async () => {
    order.push('b');
  });
  await b;
  assert.deepEqual(order, ['a1 start', 'b']);
  releaseFirst();
  await Promise.all([a1, a2]);
  assert.deepEqual(order, ['a1 start', 'b', 'a1 end', 'a2']);
  // A failing task releases the lock for the next one.
  await assert.rejects(lock.run('a', async () => { throw new Error('x'); }), /x/);
  assert.equal(await lock.run('a', async () => 5), 5);
});

test('port mappings: lowercase protocol, unpublished ones dropped, bad ones refused', () => {
  assert.deepEqual(
    toCniPortMappings([
      { hostPort: 18080, containerPort: 8080, protocol: 'TCP', hostIP: '127.0.0.1' },
      { hostPort: 0, containerPort: 9090 },
      { hostPort: 53, containerPort: 53, protocol: 'UDP', hostIP: '' },
    ]),
    [
      { hostPort: 18080, containerPort: 8080, protocol: 'tcp', hostIP: '127.0.0.1' },
      { hostPort: 53, containerPort: 53, protocol: 'udp' },
    ],
  );
  assert.throws(() => toCniPortMappings([{ hostPort: 1, containerPort: 70000 }]), /1-65535/);
  assert.throws(() => toCniPortMappings([{ hostPort: 1, containerPort: 2, protocol: 'icmp' }]), /unknown protocol/);
});
