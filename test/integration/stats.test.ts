import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { status as GrpcStatus, type ClientReadableStream } from '@grpc/grpc-js';
import { crictl } from '../support/exec.js';
import { BUSYBOX, podConfig, startNode, type TestNode } from '../support/cluster.js';
import { waitFor, waitUntil } from '../support/wait.js';

interface JsonValue {
  value: string;
}

/** The parts of `crictl stats -o json` the tests read (crictl prints the CRI messages in camelCase). */
interface CrictlContainerStats {
  attributes: { id: string; metadata: { name: string } };
  cpu?: { timestamp: string; usageCoreNanoSeconds?: JsonValue; usageNanoCores?: JsonValue };
  memory?: { workingSetBytes?: JsonValue; usageBytes?: JsonValue };
  writableLayer?: { fsId: { mountpoint: string }; usedBytes?: JsonValue; inodesUsed?: JsonValue };
}

interface CrictlPodStats {
  attributes: { id: string };
  linux: {
    cpu?: { usageCoreNanoSeconds?: JsonValue };
    memory?: { workingSetBytes?: JsonValue };
    network?: { defaultInterface?: { name: string; rxBytes?: JsonValue; txBytes?: JsonValue } };
    process?: { processCount?: JsonValue };
    containers?: CrictlContainerStats[];
  };
}

interface EventMessage {
  container_id: string;
  container_event_type: string;
  created_at: string;
  pod_sandbox_status: { id: string; state: string } | null;
  containers_statuses: { id: string; state: string }[];
}

const MiB = 1024 * 1024;

function num(v: JsonValue | undefined): number {
  return v === undefined ? 0 : Number(v.value);
}

/** Samples of a Prometheus text exposition, keyed by `name{labels}` as printed. */
function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      assert.ok(line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line), `bad comment line: ${line}`);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    // Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case (prom-client prints "Nan").
    const special = /^([+-]?)(inf|nan)$/i.exec(match[2]!);
    const value = special ? (special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(match[2]);
    assert.ok(special || !Number.isNaN(value), `bad value in: ${line}`);
    samples.set(match[1]!, value);
  }
  return samples;
}

describe('stats, events and metrics', () => {
  let node: TestNode;
  let metricsUrl: string;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;

  const socket = (): string => node.daemon.dirs.socket;

  /** Creates and starts a container in the shared pod; it is removed when the calling test ends. */
  const runContainer = async (t: TestContext, name: string, command: string[]): Promise<string> => {
    const { container_id } = await node.daemon.cri.runtime.CreateContainer({
      pod_sandbox_id: podId,
      sandbox_config: pod,
      config: { metadata: { name }, image: { image: BUSYBOX }, command, labels: { stat: name } },
    });
    t.after(() => node.daemon.cri.runtime.RemoveContainer({ container_id }).then(() => undefined));
    await node.daemon.cri.runtime.StartContainer({ container_id });
    return container_id;
  };

  const crictlStats = async (id: string): Promise<CrictlContainerStats> => {
    const out = await crictl(socket(), ['stats', '-o', 'json', '--id', id]);
    assert.equal(out.code, 0, out.stderr);
    const parsed = JSON.parse(out.stdout) as { stats: CrictlContainerStats[] };
    assert.equal(parsed.stats.length, 1, `one container with id ${id}: ${out.stdout}`);
    return parsed.stats[0]!;
  };

  const crictlPodStats = async (id: string): Promise<CrictlPodStats> => {
    const out = await crictl(socket(), ['statsp', '-o', 'json', '--id', id]);
    assert.equal(out.code, 0, out.stderr);
    const parsed = JSON.parse(out.stdout) as { stats: CrictlPodStats[] };
    assert.equal(parsed.stats.length, 1, `one pod with id ${id}: ${out.stdout}`);
    return parsed.stats[0]!;
  };

  const scrape = async (): Promise<Map<string, number>> => {
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return parsePrometheusText(await res.text());
  };

  before(async () => {
    node = await startNode({ netIndex: 5, extraToml: '[metrics]\naddress = "127.0.0.1:0"\n' });
    const announced = /berthd serving CRI .*metrics="(http:\/\/[^"]+)"/.exec(node.daemon.output());
    assert.ok(announced, `berthd did not announce its metrics URL: ${node.daemon.output()}`);
    metricsUrl = announced[1]!;
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    pod = podConfig(node);
    podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
  });

  after(async () => {
    await node?.stop();
  });

  it('reports cpu time that grows while a container burns cpu, and a rate once sampled twice', async (t) => {
    const id = await runContainer(t, 'burn', ['sh', '-c', 'while true; do :; done']);
    const first = await crictlStats(id);
    assert.equal(first.attributes.id, id);
    assert.equal(first.attributes.metadata.name, 'burn');
    const usage0 = num(first.cpu?.usageCoreNanoSeconds);
    const later = await waitFor(async () => {
      const s = await crictlStats(id);
      return num(s.cpu?.usageCoreNanoSeconds) > usage0 && num(s.cpu?.usageNanoCores) > 0 ? s : undefined;
    }, 'cpu usage to grow');
    assert.ok(BigInt(later.cpu!.timestamp) > BigInt(first.cpu!.timestamp));
    assert.ok(later.writableLayer, 'a running container reports its writable layer');
    assert.ok(num(later.writableLayer.inodesUsed) >= 1);
    assert.ok(later.writableLayer.fsId.mountpoint.startsWith(node.daemon.dirs.root));

    const table = await crictl(socket(), ['stats', '--id', id]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /CPU %/);
    assert.match(table.stdout, new RegExp(`^${id.slice(0, 13)}\\s+burn\\s`, 'm'));

    await node.daemon.cri.runtime.StopContainer({ container_id: id, timeout: '0' });
    const stopped = (await node.daemon.cri.runtime.ContainerStats({ container_id: id })).stats!;
    assert.equal(stopped.cpu, null, 'an exited container has no cpu usage');
    assert.equal(stopped.memory, null, 'an exited container has no memory usage');
  });

  it('reports the memory a container allocates, for the container and its pod', async (t) => {
    const id = await runContainer(t, 'grow', [
      'sh',
      '-c',
      // The trailing echo keeps the shell (and its 8 MiB string) alive: a last plain command would replace it.
      'while [ ! -e /tmp/go ]; do sleep 0.1; done; x=a; i=0; while [ $i -lt 23 ]; do x=$x$x; i=$((i+1)); done; touch /tmp/done; sleep 1000; echo ${#x}',
    ]);
    const before = num((await crictlStats(id)).memory?.workingSetBytes);
    assert.ok(before > 0, 'a running container has a working set');
    const podBefore = await crictlPodStats(podId);
    assert.ok(podBefore.linux.containers?.some((c) => c.attributes.id === id), 'the pod lists its running container');
    const podMemoryBefore = num(podBefore.linux.memory?.workingSetBytes);

    const go = await node.daemon.cri.runtime.ExecSync({ container_id: id, cmd: ['touch', '/tmp/go'], timeout: '10' });
    assert.equal(go.exit_code, 0);
    await waitUntil(async () => {
      const done = await node.daemon.cri.runtime.ExecSync({ container_id: id, cmd: ['test', '-e', '/tmp/done'], timeout: '10' });
      return done.exit_code === 0;
    }, 'the container to allocate');
    const afterStats = await crictlStats(id);
    assert.ok(num(afterStats.memory?.workingSetBytes) >= before + 4 * MiB, `working set grew from ${before} to ${num(afterStats.memory?.workingSetBytes)}`);
    assert.ok(num(afterStats.memory?.usageBytes) >= num(afterStats.memory?.workingSetBytes));

    const podAfter = await crictlPodStats(podId);
    assert.ok(num(podAfter.linux.memory?.workingSetBytes) >= podMemoryBefore + 4 * MiB, 'the pod counts its container memory');
    assert.ok(num(podAfter.linux.process?.processCount) >= 2, 'pause and the container shell');
    assert.ok(num(podAfter.linux.cpu?.usageCoreNanoSeconds) > 0);
  });

  it('reports the pod network counters of its default interface', async (t) => {
    const { status } = await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: podId });
    const gateway = status!.network!.ip.replace(/\.\d+$/, '.1');
    const id = await runContainer(t, 'net', ['sleep', '1000']);
    const before = (await crictlPodStats(podId)).linux.network?.defaultInterface;
    assert.equal(before?.name, 'eth0');
    // Traffic only to the test bridge's own address.
    const ping = await node.daemon.cri.runtime.ExecSync({ container_id: id, cmd: ['ping', '-c', '2', '-W', '2', gateway], timeout: '10' });
    assert.equal(ping.exit_code, 0, String(ping.stderr));
    const after = (await crictlPodStats(podId)).linux.network?.defaultInterface;
    assert.ok(num(after?.txBytes) > num(before?.txBytes), 'tx bytes grew');
    assert.ok(num(after?.rxBytes) > num(before?.rxBytes), 'rx bytes grew');
  });

  it('filters container stats by id, pod and labels', async (t) => {
    const a = await runContainer(t, 'filter-a', ['sleep', '1000']);
    const b = await runContainer(t, 'filter-b', ['sleep', '1000']);
    const rt = node.daemon.cri.runtime;
    const byLabel = await rt.ListContainerStats({ filter: { label_selector: { stat: 'filter-b' } } });
    assert.deepEqual(byLabel.stats.map((s) => s.attributes!.id), [b]);
    const byPrefix = await rt.ListContainerStats({ filter: { id: a.slice(0, 10) } });
    assert.deepEqual(byPrefix.stats.map((s) => s.attributes!.id), [a]);
    const byPod = await rt.ListContainerStats({ filter: { pod_sandbox_id: podId.slice(0, 10) } });
    assert.deepEqual(new Set(byPod.stats.map((s) => s.attributes!.id)), new Set([a, b]));
    const none = await rt.ListContainerStats({ filter: { pod_sandbox_id: 'f'.repeat(64) } });
    assert.deepEqual(none.stats, []);
    await assert.rejects(rt.ContainerStats({ container_id: 'abcdef' }), (err) => (err as { code?: number }).code === GrpcStatus.NOT_FOUND);

    const pods = await rt.ListPodSandboxStats({ filter: { label_selector: { n: pod.labels.n } } });
    assert.deepEqual(pods.stats.map((s) => s.attributes!.id), [podId]);
    assert.deepEqual(new Set(pods.stats[0]!.linux!.containers.map((c) => c.attributes!.id)), new Set([a, b]));

    const { descriptors } = await rt.ListMetricDescriptors({});
    const names = new Set(descriptors.map((d) => d.name));
    assert.ok(names.has('container_cpu_usage_seconds_total') && names.has('container_memory_working_set_bytes'));
    const { pod_metrics } = await rt.ListPodSandboxMetrics({});
    const ours = pod_metrics.find((p) => p.pod_sandbox_id === podId);
    assert.ok(ours, 'the pod has metrics');
    const containerA = ours.container_metrics.find((c) => c.container_id === a);
    const workingSet = containerA?.metrics.find((m) => m.name === 'container_memory_working_set_bytes');
    assert.ok(workingSet && Number(workingSet.value!.value) > 0);
    assert.ok(workingSet.label_values.includes('filter-a') && workingSet.label_values.includes(pod.metadata.name));
    assert.ok(ours.metrics.some((m) => m.name === 'container_network_receive_bytes_total' && m.label_values.includes('eth0')));
  });

  it('streams CREATED, STARTED, STOPPED and DELETED for a container and its pod, in order', async (t) => {
    const events: EventMessage[] = [];
    const stream = node.daemon.cri.openStream('GetContainerEvents', {}) as ClientReadableStream<EventMessage>;
    let streamError: Error | undefined;
    stream.on('data', (e: EventMessage) => events.push(e));
    stream.on('error', (err: Error) => {
      if ((err as { code?: number }).code !== GrpcStatus.CANCELLED) streamError = err;
    });
    t.after(() => stream.cancel());
    const rt = node.daemon.cri.runtime;
    // The server subscribes when it runs the call, some time after openStream: make events until one arrives.
    await waitUntil(
      async () => {
        const { container_id } = await rt.CreateContainer({
          pod_sandbox_id: podId,
          sandbox_config: pod,
          config: { metadata: { name: 'probe' }, image: { image: BUSYBOX }, command: ['true'] },
        });
        await rt.RemoveContainer({ container_id });
        return events.length > 0;
      },
      'the event stream to deliver',
      { intervalMs: 200 },
    );
    const lifePod = podConfig(node);
    const lifePodId = (await rt.RunPodSandbox({ config: lifePod })).pod_sandbox_id;
    const { container_id: cid } = await rt.CreateContainer({
      pod_sandbox_id: lifePodId,
      sandbox_config: lifePod,
      config: { metadata: { name: 'life' }, image: { image: BUSYBOX }, command: ['sleep', '1000'] },
    });
    await rt.StartContainer({ container_id: cid });
    await rt.StopContainer({ container_id: cid, timeout: '0' });
    await rt.RemoveContainer({ container_id: cid });
    await rt.StopPodSandbox({ pod_sandbox_id: lifePodId });
    await rt.RemovePodSandbox({ pod_sandbox_id: lifePodId });
    await waitUntil(() => events.some((e) => e.container_id === lifePodId && e.container_event_type === 'CONTAINER_DELETED_EVENT'), 'the pod DELETED event');
    assert.equal(streamError, undefined);

    const lifecycle = ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT'];
    const ofContainer = events.filter((e) => e.container_id === cid);
    assert.deepEqual(ofContainer.map((e) => e.container_event_type), lifecycle);
    const ofPod = events.filter((e) => e.container_id === lifePodId);
    assert.deepEqual(ofPod.map((e) => e.container_event_type), lifecycle);
    // Pod CREATED/STARTED come first, the container's events next, the pod's STOPPED/DELETED last.
    const order = events.filter((e) => e.container_id === cid || e.container_id === lifePodId).map((e) => `${e.container_id === cid ? 'c' : 'p'}:${e.container_event_type}`);
    assert.deepEqual(order.slice(0, 2), ['p:CONTAINER_CREATED_EVENT', 'p:CONTAINER_STARTED_EVENT']);
    assert.deepEqual(order.slice(-2), ['p:CONTAINER_STOPPED_EVENT', 'p:CONTAINER_DELETED_EVENT']);
    for (let i = 1; i < events.length; i++) assert.ok(BigInt(events[i]!.created_at) >= BigInt(events[i - 1]!.created_at), 'created_at never goes back');

    const started = ofContainer[1]!;
    assert.equal(started.pod_sandbox_status?.id, lifePodId);
    assert.equal(started.pod_sandbox_status?.state, 'SANDBOX_READY');
    assert.deepEqual(started.containers_statuses.map((s) => [s.id, s.state]), [[cid, 'CONTAINER_RUNNING']]);
    assert.equal(ofContainer[2]!.containers_statuses[0]?.state, 'CONTAINER_EXITED');
    assert.deepEqual(ofContainer[3]!.containers_statuses, [], 'a deleted container is no longer in its pod');
    assert.equal(ofPod[2]!.pod_sandbox_status?.state, 'SANDBOX_NOTREADY');
    assert.equal(ofPod[3]!.pod_sandbox_status, null, 'a deleted pod has no status');
  });

  it('announces a container that exits on its own, and a pod whose pause process dies, once each', async (t) => {
    const events: EventMessage[] = [];
    const stream = node.daemon.cri.openStream('GetContainerEvents', {}) as ClientReadableStream<EventMessage>;
    stream.on('data', (e: EventMessage) => events.push(e));
    stream.on('error', () => undefined);
    t.after(() => stream.cancel());
    const rt = node.daemon.cri.runtime;
    const lonePod = podConfig(node);
    const lonePodId = (await rt.RunPodSandbox({ config: lonePod })).pod_sandbox_id;
    await waitUntil(() => events.some((e) => e.container_id === lonePodId), 'the stream to carry the new pod');
    const { container_id: cid } = await rt.CreateContainer({
      pod_sandbox_id: lonePodId,
      sandbox_config: lonePod,
      config: { metadata: { name: 'quitter' }, image: { image: BUSYBOX }, command: ['sh', '-c', 'sleep 0.3; exit 3'] },
    });
    await rt.StartContainer({ container_id: cid });
    const stopped = await waitFor(
      async () => events.find((e) => e.container_id === cid && e.container_event_type === 'CONTAINER_STOPPED_EVENT'),
      'the STOPPED event of a container that exited by itself',
    );
    assert.equal(stopped.containers_statuses.find((s) => s.id === cid)?.state, 'CONTAINER_EXITED');
    const status = await rt.ContainerStatus({ container_id: cid });
    assert.equal(status.status?.exit_code, 3);
    assert.equal(status.status?.reason, 'Error');

    const inspect = await rt.PodSandboxStatus({ pod_sandbox_id: lonePodId, verbose: true });
    const pausePid = (JSON.parse(inspect.info.info!) as { pid: number }).pid;
    process.kill(pausePid, 'SIGKILL');
    await waitFor(
      async () => events.find((e) => e.container_id === lonePodId && e.container_event_type === 'CONTAINER_STOPPED_EVENT'),
      'the pod STOPPED event after its pause process died',
    );
    assert.equal((await rt.PodSandboxStatus({ pod_sandbox_id: lonePodId })).status?.state, 'SANDBOX_NOTREADY');
    await rt.StopPodSandbox({ pod_sandbox_id: lonePodId });
    await rt.RemovePodSandbox({ pod_sandbox_id: lonePodId });
    await waitUntil(() => events.some((e) => e.container_id === lonePodId && e.container_event_type === 'CONTAINER_DELETED_EVENT'), 'the pod DELETED event');
    const count = (id: string, type: string) => events.filter((e) => e.container_id === id && e.container_event_type === type).length;
    assert.equal(count(cid, 'CONTAINER_STOPPED_EVENT'), 1, 'one STOPPED event for the container');
    assert.equal(count(lonePodId, 'CONTAINER_STOPPED_EVENT'), 1, 'one STOPPED event for the pod, though StopPodSandbox followed');
  });

  it('serves Prometheus metrics on /metrics that count the CRI calls made', async () => {
    const method = 'runtime.v1.RuntimeService/ListContainerStats';
    const ok = `berth_grpc_requests_total{method="${method}",code="OK"}`;
    const notFound = 'berth_grpc_requests_total{method="runtime.v1.RuntimeService/ContainerStats",code="NOT_FOUND"}';
    const before = await scrape();
    for (let i = 0; i < 3; i++) await node.daemon.cri.runtime.ListContainerStats({});
    await assert.rejects(node.daemon.cri.runtime.ContainerStats({ container_id: 'abcdef' }));
    const after = await scrape();
    assert.ok((after.get(ok) ?? 0) >= (before.get(ok) ?? 0) + 3, `${ok} grew by 3`);
    assert.ok((after.get(notFound) ?? 0) >= (before.get(notFound) ?? 0) + 1, `${notFound} grew`);
    assert.ok((after.get(`berth_grpc_request_duration_seconds_count{method="${method}",code="OK"}`) ?? 0) >= 3);
    assert.equal(after.get('berth_sandboxes{state="SANDBOX_READY"}'), 1, 'the one ready pod of this test');
    assert.ok(after.has('process_resident_memory_bytes'));
  });
});
