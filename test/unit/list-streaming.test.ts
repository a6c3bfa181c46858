import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchItems, listItems } from '../../src/cri/list-streaming.js';
import { loadCriProto } from '../../src/cri/proto.js';
import type { Container } from '../../src/gen/cri/runtime/v1/Container.js';

const service = () => loadCriProto().runtime.v1.RuntimeService.service;

function container(id: string, annotationBytes = 0): Container {
  return {
    id,
    pod_sandbox_id: 'pod',
    metadata: { name: `c-${id}`, attempt: 0 },
    image: { image: 'busybox' },
    image_ref: 'sha256:1',
    state: 'CONTAINER_RUNNING',
    created_at: '1',
    labels: {},
    annotations: annotationBytes > 0 ? { big: 'x'.repeat(annotationBytes) } : ({} as Record<string, string>),
  };
}

describe('list streaming', () => {
  it('splits a List response into its items, each decoding as a Stream response of one', () => {
    const list = service().ListContainers.responseSerialize({ containers: [container('a'), container('b', 300), container('c', 20_000)] });
    const items = listItems(list);
    assert.equal(items.length, 3);
    assert.deepEqual(Buffer.concat(items), list);
    const decoded = items.map((item) => (service().StreamContainers.responseDeserialize(item) as { containers: Array<{ id: string }> }).containers.map((c) => c.id));
    assert.deepEqual(decoded, [['a'], ['b'], ['c']]);
  });

  it('an empty list has no items', () => {
    assert.deepEqual(listItems(service().ListContainers.responseSerialize({ containers: [] })), []);
  });

  it('refuses a message with another field or a truncated item', () => {
    const status = service().ContainerStatus.responseSerialize({ status: { id: 'a' }, info: { k: 'v' } });
    assert.throws(() => listItems(status), /field tag 18/);
    const list = service().ListContainers.responseSerialize({ containers: [container('a')] });
    assert.throws(() => listItems(list.subarray(0, list.length - 1)), /runs past its end/);
    assert.throws(() => listItems(Buffer.from([0x0a, 0x80])), /truncated varint/);
  });

  it('batches items in order under the size limit, an oversized item alone, no batch empty', () => {
    const sized = (n: number, tag: number) => Buffer.alloc(n, tag);
    const items = [sized(400, 1), sized(400, 2), sized(300, 3), sized(2000, 4), sized(100, 5)];
    const batches = batchItems(items, 1000);
    assert.deepEqual(batches.map((b) => b.map((i) => i[0])), [[1, 2], [3], [4], [5]]);
    assert.deepEqual(batchItems([], 1000), []);
    assert.deepEqual(Buffer.concat(batches.flat()), Buffer.concat(items), 'each item exactly once, in order');
  });
});
