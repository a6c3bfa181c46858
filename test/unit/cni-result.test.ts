import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interfacesFromResult, podIpsFromResult } from '../../src/cni/result.js';

test('ips on the pod interface only, first IPv4 first, prefix removed', () => {
  const result = {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'berthcni0', mac: 'aa:bb:cc:dd:ee:00' },
      { name: 'veth1', mac: 'aa:bb:cc:dd:ee:01' },
      { name: 'eth0', mac: 'aa:bb:cc:dd:ee:02', sandbox: '/var/run/netns/x' },
    ],
    ips: [
      { address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 },
      { address: '10.0.0.9/24', interface: 0 },
      { address: '10.233.0.5/24', gateway: '10.233.0.1', interface: 2 },
      { address: '10.233.1.5/24', interface: 2 },
    ],
  };
  assert.deepEqual(podIpsFromResult(result, 'eth0'), [
    { address: '10.233.0.5', gateway: '10.233.0.1', family: 4 },
    { address: 'fd00::5', gateway: 'fd00::1', family: 6 },
    { address: '10.233.1.5', family: 4 },
  ]);
  assert.deepEqual(interfacesFromResult(result).map((i) => i.name), ['berthcni0', 'veth1', 'eth0']);
});

test('ips without interface index count as the pod\'s', () => {
  const result = { cniVersion: '0.3.1', ips: [{ version: '4', address: '10.1.2.3/16', gateway: '10.1.0.1' }] };
  assert.deepEqual(podIpsFromResult(result, 'eth0'), [{ address: '10.1.2.3', gateway: '10.1.0.1', family: 4 }]);
});

test('legacy 0.2.0 ip4/ip6 results are read', () => {
  const result = { cniVersion: '0.2.0', ip4: { ip: '10.9.0.2/24', gateway: '10.9.0.1' }, ip6: { ip: 'fd01::2/64' } };
  assert.deepEqual(podIpsFromResult(result, 'eth0'), [
    { address: '10.9.0.2', gateway: '10.9.0.1', family: 4 },
    { address: 'fd01::2', family: 6 },
  ]);
});

test('garbage entries are ignored, an empty result has no ips', () => {
  assert.deepEqual(podIpsFromResult({ ips: [null, { address: 'nonsense/3' }, 7] }, 'eth0'), []);
  assert.deepEqual(podIpsFromResult({}, 'eth0'), []);
});
