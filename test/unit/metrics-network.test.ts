import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError } from '../../src/core/errors.js';
import { defaultInterface, parseNetDev, readNetworkStats } from '../../src/core/metrics/network-stats.js';

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1560      20    0    0    0     0          0         0     1560      20    0    0    0     0       0          0
  eth0: 9876543   12345    3    7    0     0          0        11  1234567    2345    1    2    0     0       0          0
veth-long-name0:      42       1    0    0    0     0          0         0        0       0    0    0    0     0       0          0
`;

describe('network stats', () => {
  it('parses /proc/net/dev counters per interface', () => {
    const stats = parseNetDev(NET_DEV);
    assert.deepEqual(stats.map((s) => s.name), ['lo', 'eth0', 'veth-long-name0']);
    assert.deepEqual(stats[1], {
      name: 'eth0',
      rxBytes: 9876543,
      rxPackets: 12345,
      rxErrors: 3,
      rxDropped: 7,
      txBytes: 1234567,
      txPackets: 2345,
      txErrors: 1,
      txDropped: 2,
    });
    assert.equal(stats[2]!.rxBytes, 42);
  });

  it('rejects truncated lines', () => {
    assert.throws(() => parseNetDev('  eth0: 1 2 3\n'), /eth0 has 3 counters/);
  });

  it('picks eth0 as the default interface, else the first non-loopback one', () => {
    const stats = parseNetDev(NET_DEV);
    assert.equal(defaultInterface(stats)?.name, 'eth0');
    assert.equal(defaultInterface(stats.filter((s) => s.name !== 'eth0'))?.name, 'veth-long-name0');
    assert.equal(defaultInterface(stats.filter((s) => s.name === 'lo')), undefined);
  });

  it('reads the namespace of a live process and reports a gone one as not found', async () => {
    const withLo = await readNetworkStats(process.pid, { includeLoopback: true });
    assert.ok(withLo.some((s) => s.name === 'lo'));
    const withoutLo = await readNetworkStats(process.pid);
    assert.ok(withoutLo.every((s) => s.name !== 'lo'));
    await assert.rejects(readNetworkStats(0x7ffffff0), NotFoundError);
  });
});
