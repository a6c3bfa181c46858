/**
 * cAdvisor-style metrics for CRI ListMetricDescriptors and
 * ListPodSandboxMetrics: the kubelet re-exports them on /metrics/cadvisor,
 * so names, help texts and label keys follow cAdvisor's.
 *
 * CRI metric values are unsigned integers: *_seconds_total counters carry
 * whole seconds (the fraction is dropped), byte and count metrics are exact.
 */
import type { ContainerMetrics } from '../../gen/cri/runtime/v1/ContainerMetrics.js';
import type { Metric } from '../../gen/cri/runtime/v1/Metric.js';
import type { MetricDescriptor } from '../../gen/cri/runtime/v1/MetricDescriptor.js';
import type { PodSandboxMetrics } from '../../gen/cri/runtime/v1/PodSandboxMetrics.js';
import type { CgroupStats } from './cgroup-parsers.js';
import type { DiskUsage } from './disk-usage.js';
import type { InterfaceStats } from './network-stats.js';

/** The labels every metric carries, in LABEL_KEYS order. */
export interface MetricLabels {
  /** the container's name in the pod ("" for pod-level metrics) */
  container: string;
  /** the container (or sandbox) id */
  id: string;
  image: string;
  /** the runtime's name for the container */
  name: string;
  namespace: string;
  pod: string;
}

export const LABEL_KEYS: readonly (keyof MetricLabels)[] = ['container', 'id', 'image', 'name', 'namespace', 'pod'];

type Kind = 'COUNTER' | 'GAUGE';
type Value = bigint | number;

/** One series of a metric: its extra label values and its value. */
interface Series {
  extra: string[];
  value: Value;
}

export interface ContainerSample {
  stats: CgroupStats;
  /** usage of the writable layer, with the device (or snapshot path) to label it with */
  writableLayer?: { device: string; usage: DiskUsage };
}

interface ContainerMetricSpec {
  name: string;
  help: string;
  kind: Kind;
  extraKeys: string[];
  series(sample: ContainerSample): Series[];
}

interface NetworkMetricSpec {
  name: string;
  help: string;
  kind: Kind;
  value(i: InterfaceStats): number;
}

const NANOS_PER_SECOND = 1_000_000_000n;

function one(value: Value | undefined): Series[] {
  return value === undefined ? [] : [{ extra: [], value }];
}

function seconds(nanos: bigint | undefined): bigint | undefined {
  return nanos === undefined ? undefined : nanos / NANOS_PER_SECOND;
}

const CONTAINER_METRICS: readonly ContainerMetricSpec[] = [
  {
    name: 'container_cpu_usage_seconds_total',
    help: 'Cumulative cpu time consumed in seconds.',
    kind: 'COUNTER',
    extraKeys: [],
    series: (s) => one(seconds(s.stats.cpu?.usageCoreNanoSeconds)),
  },
  {
    name: 'container_cpu_user_seconds_total',
    help: 'Cumulative user cpu time consumed in seconds.',
    kind: 'COUNTER',
    extraKeys: [],
    series: (s) => one(seconds(s.stats.cpu?.usageUserNanoSeconds)),
  },
  {
    name: 'container_cpu_system_seconds_total',
    help: 'Cumulative system cpu time consumed in seconds.',
    kind: 'COUNTER',
    extraKeys: [],
    series: (s) => one(seconds(s.stats.cpu?.usageSystemNanoSeconds)),
  },
  {
    name: 'container_memory_usage_bytes',
    help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.',
    kind: 'GAUGE',
    extraKeys: [],
    series: (s) => one(s.stats.memory?.usageBytes),
  },
  {
    name: 'container_memory_working_set_bytes',
    help: 'Current working set in bytes.',
    kind: 'GAUGE',
    extraKeys: [],
    series: (s) => one(s.stats.memory?.workingSetBytes),
  },
  {
    name: 'container_memory_rss',
    help: 'Size of RSS in bytes.',
    kind: 'GAUGE',
    extraKeys: [],
    series: (s) => one(s.stats.memory?.rssBytes),
  },
  {
    name: 'container_memory_failures_total',
    help: 'Cumulative count of memory allocation failures.',
    kind: 'COUNTER',
    extraKeys: ['failure_type', 'scope'],
    series: (s) =>
      s.stats.memory === undefined
        ? []
        : [
            { extra: ['pgfault', 'container'], value: s.stats.memory.pageFaults },
            { extra: ['pgmajfault', 'container'], value: s.stats.memory.majorPageFaults },
          ],
  },
  {
    name: 'container_spec_memory_limit_bytes',
    help: 'Memory limit for the container.',
    kind: 'GAUGE',
    extraKeys: [],
    series: (s) => one(s.stats.memory?.limitBytes),
  },
  {
    name: 'container_threads',
    help: 'Number of threads running inside the container.',
    kind: 'GAUGE',
    extraKeys: [],
    series: (s) => one(s.stats.pids?.current),
  },
  {
    name: 'container_threads_max',
    help: 'Maximum number of threads allowed inside the container, infinity if value is zero.',
    kind: 'GAUGE',
    extraKeys: [],
    series: (s) => (s.stats.pids === undefined ? [] : one(s.stats.pids.limit ?? 0)),
  },
  {
    name: 'container_fs_usage_bytes',
    help: 'Number of bytes that are consumed by the container on this filesystem.',
    kind: 'GAUGE',
    extraKeys: ['device'],
    series: (s) => (s.writableLayer === undefined ? [] : [{ extra: [s.writableLayer.device], value: s.writableLayer.usage.bytes }]),
  },
  {
    name: 'container_fs_inodes_used',
    help: 'Number of inodes used by the container on this filesystem.',
    kind: 'GAUGE',
    extraKeys: ['device'],
    series: (s) => (s.writableLayer === undefined ? [] : [{ extra: [s.writableLayer.device], value: s.writableLayer.usage.inodes }]),
  },
];

const NETWORK_METRICS: readonly NetworkMetricSpec[] = [
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', kind: 'COUNTER', value: (i) => i.rxBytes },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', kind: 'COUNTER', value: (i) => i.txBytes },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received.', kind: 'COUNTER', value: (i) => i.rxPackets },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted.', kind: 'COUNTER', value: (i) => i.txPackets },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', kind: 'COUNTER', value: (i) => i.rxErrors },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', kind: 'COUNTER', value: (i) => i.txErrors },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving.', kind: 'COUNTER', value: (i) => i.rxDropped },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting.', kind: 'COUNTER', value: (i) => i.txDropped },
];

/** Everything ListMetricDescriptors returns. */
export function listMetricDescriptors(): MetricDescriptor[] {
  return [
    ...CONTAINER_METRICS.map((m) => ({ name: m.name, help: m.help, label_keys: [...LABEL_KEYS, ...m.extraKeys] })),
    ...NETWORK_METRICS.map((m) => ({ name: m.name, help: m.help, label_keys: [...LABEL_KEYS, 'interface'] })),
  ];
}

function labelValues(labels: MetricLabels, extra: string[]): string[] {
  return [...LABEL_KEYS.map((k) => labels[k]), ...extra];
}

function metric(name: string, kind: Kind, timestamp: bigint, labels: string[], value: Value): Metric {
  return {
    name,
    timestamp: timestamp.toString(),
    metric_type: kind,
    label_values: labels,
    value: { value: (typeof value === 'bigint' ? value : BigInt(Math.max(0, Math.trunc(value)))).toString() },
  };
}

/** The CRI metrics of one container from a stats sample; parts missing from the sample are skipped. */
export function containerMetrics(containerId: string, labels: MetricLabels, sample: ContainerSample): ContainerMetrics {
  const metrics: Metric[] = [];
  for (const spec of CONTAINER_METRICS) {
    for (const s of spec.series(sample)) {
      metrics.push(metric(spec.name, spec.kind, sample.stats.timestamp, labelValues(labels, s.extra), s.value));
    }
  }
  return { container_id: containerId, metrics };
}

/** Pod-level network metrics, one series per interface of the pod's namespace. */
export function networkMetrics(labels: MetricLabels, timestamp: bigint, interfaces: readonly InterfaceStats[]): Metric[] {
  const metrics: Metric[] = [];
  for (const spec of NETWORK_METRICS) {
    for (const i of interfaces) metrics.push(metric(spec.name, spec.kind, timestamp, labelValues(labels, [i.name]), spec.value(i)));
  }
  return metrics;
}

export interface PodSandboxSample {
  /** labels of the pod itself: container "" and id the sandbox id, as cAdvisor labels a pod cgroup */
  labels: MetricLabels;
  /** the pod cgroup's sample, if read */
  pod?: ContainerSample;
  network?: { timestamp: bigint; interfaces: readonly InterfaceStats[] };
  containers: readonly { id: string; labels: MetricLabels; sample: ContainerSample }[];
}

/** One entry of ListPodSandboxMetrics. */
export function podSandboxMetrics(podSandboxId: string, sample: PodSandboxSample): PodSandboxMetrics {
  const metrics: Metric[] = sample.pod === undefined ? [] : containerMetrics(podSandboxId, sample.labels, sample.pod).metrics ?? [];
  if (sample.network !== undefined) metrics.push(...networkMetrics(sample.labels, sample.network.timestamp, sample.network.interfaces));
  return {
    pod_sandbox_id: podSandboxId,
    metrics,
    container_metrics: sample.containers.map((c) => containerMetrics(c.id, c.labels, c.sample)),
  };
}
