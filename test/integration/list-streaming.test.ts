/**
 * CRI list streaming (CRIListStreaming): each Stream* call sends the items its
 * List call answers, each exactly once, in responses of at least one item and
 * at most 1 MiB unless one item alone is bigger; no items, no responses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';

type Response = Record<string, unknown[]>;

/** Pods of 400 KiB: two fit one 1 MiB response, three do not. */
const BIG_ANNOTATION = 'a'.repeat(400 * 1024);

describe('list streaming (Stream* calls)', () => {
  let node: TestNode;
  const pods: string[] = [];

  function collect(method: string, request: object): Promise<Response[]> {
    return new Promise((resolve, reject) => {
      const responses: Response[] = [];
      const stream = node.daemon.cri.openStream(method, request);
      stream.on('data', (response: Response) => responses.push(response));
      stream.on('error', reject);
      stream.on('end', () => resolve(responses));
    });
  }

  /** The items of every response, checking each response holds at least one. */
  async function streamed(method: string, field: string, request: object = {}): Promise<{ items: unknown[]; responses: number }> {
    const responses = await collect(method, request);
    for (const r of responses) assert.ok((r[field] ?? []).length > 0, `${method}: a response without items`);
    return { items: responses.flatMap((r) => r[field] ?? []), responses: responses.length };
  }

  const idsOf = (items: unknown[], key: string) => items.map((item) => (item as Record<string, unknown>)[key] as string);

  function assertSameIds(streamedIds: string[], listedIds: string[], what: string): void {
    assert.equal(new Set(streamedIds).size, streamedIds.length, `${what}: an item sent twice`);
    assert.deepEqual([...streamedIds].sort(), [...listedIds].sort(), what);
  }

  before(async () => {
    node = await startNode({ netIndex: 12 });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    for (let i = 0; i < 3; i++) {
      const pod = podConfig(node, { annotations: { big: BIG_ANNOTATION } });
      const podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
      pods.push(podId);
      if (i < 2) await runInPod(node.daemon, podId, pod, `work-${i}`, { command: ['sleep', '3600'] });
    }
  });

  after(async () => {
    await node?.stop();
  });

  it('StreamPodSandboxes sends every pod once, as many to a response as fit 1 MiB', async () => {
    const { items, responses } = await streamed('StreamPodSandboxes', 'pod_sandboxes');
    const listed = (await node.daemon.cri.runtime.ListPodSandbox({})).items;
    assertSameIds(idsOf(items, 'id'), idsOf(listed, 'id'), 'pods');
    assert.equal(items.length, 3);
    assert.equal(responses, 2, 'three pods of 400 KiB: two in the first response, one in the second');
    const annotations = items.map((p) => (p as { annotations: Record<string, string> }).annotations['big']);
    assert.ok(annotations.every((a) => a === BIG_ANNOTATION));
  });

  it('StreamContainers applies the List filter; no match is a stream with no responses', async () => {
    const all = await streamed('StreamContainers', 'containers');
    assertSameIds(idsOf(all.items, 'id'), idsOf((await node.daemon.cri.runtime.ListContainers({})).containers, 'id'), 'containers');
    assert.equal(all.items.length, 2);
    const filter = { pod_sandbox_id: pods[0]! };
    const inPod = await streamed('StreamContainers', 'containers', { filter });
    assertSameIds(idsOf(inPod.items, 'id'), idsOf((await node.daemon.cri.runtime.ListContainers({ filter })).containers, 'id'), 'containers of one pod');
    assert.equal(inPod.items.length, 1);
    assert.deepEqual(await collect('StreamContainers', { filter: { id: 'no-such-container' } }), []);
  });

  it('StreamImages, StreamContainerStats, StreamPodSandboxStats and StreamPodSandboxMetrics match their List calls', async () => {
    const images = await streamed('StreamImages', 'images');
    assertSameIds(idsOf(images.items, 'id'), idsOf((await node.daemon.cri.image.ListImages({})).images, 'id'), 'images');
    assert.ok(images.items.length >= 2, 'pause and busybox');

    const containerStats = await streamed('StreamContainerStats', 'container_stats');
    const listedContainerStats = (await node.daemon.cri.runtime.ListContainerStats({})).stats;
    const statId = (items: unknown[]) => items.map((s) => (s as { attributes: { id: string } }).attributes.id);
    assertSameIds(statId(containerStats.items), statId(listedContainerStats), 'container stats');
    assert.equal(containerStats.items.length, 2);

    const podStats = await streamed('StreamPodSandboxStats', 'pod_sandbox_stats');
    assertSameIds(statId(podStats.items), statId((await node.daemon.cri.runtime.ListPodSandboxStats({})).stats), 'pod stats');
    assert.equal(podStats.items.length, 3);

    const metrics = await streamed('StreamPodSandboxMetrics', 'pod_sandbox_metrics');
    const listedMetrics = (await node.daemon.cri.runtime.ListPodSandboxMetrics({})).pod_metrics;
    assertSameIds(idsOf(metrics.items, 'pod_sandbox_id'), idsOf(listedMetrics, 'pod_sandbox_id'), 'pod metrics');
    assert.equal(metrics.items.length, 3);
  });
});
