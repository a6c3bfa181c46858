import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerRecord, SandboxRecord } from '../../src/core/metadata/records.js';
import { matchesStatsFilter } from '../../src/cri/container-stats-list.js';
import { matchesSandboxStatsFilter } from '../../src/cri/sandbox-stats-list.js';
import { sumStats, toNetworkUsage } from '../../src/cri/stats-service.js';

const ifaceStats = (name: string, rx: number, tx: number) => ({ name, rxBytes: rx, rxPackets: 1, rxErrors: 2, rxDropped: 0, txBytes: tx, txPackets: 1, txErrors: 3, txDropped: 0 });

const container = (id: string, sandboxId: string, labels: Record<string, string>): ContainerRecord => ({
  id, sandboxId, name: id, config: { metadata: { name: id }, labels }, imageId: '', imageRef: '', state: 'running', pid: 1,
  createdAt: 0n, startedAt: 0n, finishedAt: 0n, exitCode: 0, reason: '', message: '', logPath: '', extra: {},
});

describe('stats service helpers', () => {
  it('adds up the cgroups of a pod without a cgroup parent, dropping limits', () => {
    const sum = sumStats([
      { timestamp: 5n, cpu: { usageCoreNanoSeconds: 10n }, memory: { usageBytes: 100, workingSetBytes: 80, rssBytes: 50, pageFaults: 3, majorPageFaults: 1, limitBytes: 1000, availableBytes: 920 }, pids: { current: 1, limit: 10 } },
      { timestamp: 7n, cpu: { usageCoreNanoSeconds: 32n }, memory: { usageBytes: 200, workingSetBytes: 150, rssBytes: 70, pageFaults: 4, majorPageFaults: 0 }, pids: { current: 2 } },
      { timestamp: 6n },
    ]);
    assert.deepEqual(sum, {
      timestamp: 7n,
      cpu: { usageCoreNanoSeconds: 42n },
      memory: { usageBytes: 300, workingSetBytes: 230, rssBytes: 120, pageFaults: 7, majorPageFaults: 1 },
      pids: { current: 3 },
    });
    assert.equal(sumStats([]), undefined);
    assert.deepEqual(sumStats([{ timestamp: 1n }]), { timestamp: 1n });
  });

  it('reports eth0 as the default interface and the others beside it', () => {
    const usage = toNetworkUsage(9n, [ifaceStats('net1', 1, 2), ifaceStats('eth0', 300, 400)]);
    assert.equal(usage.timestamp, '9');
    assert.deepEqual(usage.default_interface, { name: 'eth0', rx_bytes: { value: '300' }, rx_errors: { value: '2' }, tx_bytes: { value: '400' }, tx_errors: { value: '3' } });
    assert.deepEqual(usage.interfaces?.map((i) => i.name), ['net1']);
    assert.equal(toNetworkUsage(1n, []).default_interface, null);
  });

  it('filters containers by id prefix, pod id prefix and every label', () => {
    const c = container('abc123', 'fed987', { app: 'web', tier: 'front' });
    assert.ok(matchesStatsFilter(c, null));
    assert.ok(matchesStatsFilter(c, { id: 'abc', pod_sandbox_id: 'fed', label_selector: { app: 'web' } }));
    assert.ok(!matchesStatsFilter(c, { id: 'abd', pod_sandbox_id: '', label_selector: {} }));
    assert.ok(!matchesStatsFilter(c, { id: '', pod_sandbox_id: 'fee', label_selector: {} }));
    assert.ok(!matchesStatsFilter(c, { id: '', pod_sandbox_id: '', label_selector: { app: 'web', tier: 'back' } }));
    const s = { id: 'fed987', config: { labels: { team: 'a' } } } as unknown as SandboxRecord;
    assert.ok(matchesSandboxStatsFilter(s, { id: 'fed', label_selector: { team: 'a' } }));
    assert.ok(!matchesSandboxStatsFilter(s, { id: '', label_selector: { team: 'b' } }));
  });
});
