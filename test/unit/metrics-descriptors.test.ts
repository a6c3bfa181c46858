import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Metric } from '../../src/gen/cri/runtime/v1/Metric.js';
import type { CgroupStats } from '../../src/core/metrics/cgroup-parsers.js';
import {
  containerMetrics,
  LABEL_KEYS,
  listMetricDescriptors,
  podSandboxMetrics,
  type MetricLabels,
} from '../../src/core/metrics/descriptors.js';
import { parseNetDev } from '../../src/core/metrics/network-stats.js';

const labels: MetricLabels = { container: 'app', id: 'c'.repeat(64), image: 'docker.io/library/busybox:1.36', name: 'app', namespace: 'default', pod: 'web-1' };
const podLabels: MetricLabels = { ...labels, container: '', id: 's'.repeat(64), name: '', image: '' };
const TS = 1_700_000_000_123_456_789n;

const stats: CgroupStats = {
  timestamp: TS,
  cpu: { usageCoreNanoSeconds: 7_900_000_000n, usageUserNanoSeconds: 5_000_000_000n, usageSystemNanoSeconds: 2_900_000_000n },
  memory: { usageBytes: 60_000_000, workingSetBytes: 55_000_000, rssBytes: 50_000_000, pageFaults: 100, majorPageFaults: 2, limitBytes: 100_000_000, availableBytes: 45_000_000 },
  pids: { current: 3 },
};

function find(metrics: readonly Metric[], name: string, extra: string[] = []): Metric | undefined {
  return metrics.find((m) => m.name === name && m.label_values?.slice(LABEL_KEYS.length).join(',') === extra.join(','));
}

describe('CRI metric descriptors', () => {
  it('describes the cAdvisor metrics with help and label keys', () => {
    const descriptors = listMetricDescriptors();
    const names = descriptors.map((d) => d.name);
    for (const name of [
      'container_cpu_usage_seconds_total',
      'container_memory_working_set_bytes',
      'container_memory_usage_bytes',
      'container_memory_rss',
      'container_network_receive_bytes_total',
      'container_network_transmit_bytes_total',
    ]) {
      assert.ok(names.includes(name), name);
    }
    assert.equal(new Set(names).size, names.length, 'names are unique');
    for (const d of descriptors) {
      assert.ok((d.help ?? '').length > 0, `${d.name} has help`);
      assert.deepEqual(d.label_keys?.slice(0, LABEL_KEYS.length), [...LABEL_KEYS]);
    }
    assert.deepEqual(descriptors.find((d) => d.name === 'container_network_receive_bytes_total')?.label_keys?.at(-1), 'interface');
  });

  it('turns a container sample into CRI metrics whose labels match the descriptors', () => {
    const result = containerMetrics(labels.id, labels, { stats, writableLayer: { device: '/var/lib/berth/snapshots/7', usage: { bytes: 8192, inodes: 3 } } });
    assert.equal(result.container_id, labels.id);
    const metrics = result.metrics ?? [];
    const keysByName = new Map(listMetricDescriptors().map((d) => [d.name, d.label_keys ?? []]));
    for (const m of metrics) {
      assert.equal(m.timestamp, TS.toString());
      assert.equal(m.label_values?.length, keysByName.get(m.name ?? '')?.length, `${m.name} label count`);
    }
    const cpu = find(metrics, 'container_cpu_usage_seconds_total');
    assert.equal(cpu?.metric_type, 'COUNTER');
    assert.deepEqual(cpu?.value, { value: '7' }, 'whole seconds');
    assert.deepEqual(cpu?.label_values, [labels.container, labels.id, labels.image, labels.name, labels.namespace, labels.pod]);
    const ws = find(metrics, 'container_memory_working_set_bytes');
    assert.equal(ws?.metric_type, 'GAUGE');
    assert.deepEqual(ws?.value, { value: '55000000' });
    assert.deepEqual(find(metrics, 'container_memory_failures_total', ['pgmajfault', 'container'])?.value, { value: '2' });
    assert.deepEqual(find(metrics, 'container_fs_usage_bytes', ['/var/lib/berth/snapshots/7'])?.value, { value: '8192' });
    assert.deepEqual(find(metrics, 'container_threads_max')?.value, { value: '0' }, 'no pids limit is reported as 0');
  });

  it('skips what the sample lacks', () => {
    const metrics = containerMetrics('x', labels, { stats: { timestamp: TS, cpu: stats.cpu! } }).metrics ?? [];
    assert.deepEqual([...new Set(metrics.map((m) => m.name))], ['container_cpu_usage_seconds_total', 'container_cpu_user_seconds_total', 'container_cpu_system_seconds_total']);
  });

  it('builds ListPodSandboxMetrics entries with per-interface network metrics', () => {
    const interfaces = parseNetDev('  eth0: 1000 10 1 0 0 0 0 0 2000 20 2 0 0 0 0 0\n  net1: 5 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0\n');
    const pod = podSandboxMetrics(podLabels.id, {
      labels: podLabels,
      network: { timestamp: TS, interfaces },
      containers: [{ id: labels.id, labels, sample: { stats } }],
    });
    assert.equal(pod.pod_sandbox_id, podLabels.id);
    const rx = find(pod.metrics ?? [], 'container_network_receive_bytes_total', ['eth0']);
    assert.deepEqual(rx?.value, { value: '1000' });
    assert.equal(rx?.label_values?.[1], podLabels.id);
    assert.deepEqual(find(pod.metrics ?? [], 'container_network_transmit_bytes_total', ['net1'])?.value, { value: '6' });
    assert.deepEqual(find(pod.metrics ?? [], 'container_network_transmit_errors_total', ['eth0'])?.value, { value: '2' });
    assert.equal(pod.container_metrics?.length, 1);
    assert.equal(pod.container_metrics?.[0]?.container_id, labels.id);
  });
});
