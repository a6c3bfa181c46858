import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, SubscriberFellBehindError, type ContainerEvent } from '../../src/core/events/bus.js';

function event(n: number): ContainerEvent {
  return {
    containerId: `c${n}`,
    type: 'CONTAINER_STARTED_EVENT',
    createdAt: String(1_700_000_000_000_000_000n + BigInt(n)),
    podSandboxStatus: null,
    containersStatuses: [],
  };
}

async function take<T>(iterable: AsyncIterable<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  if (count === 0) return out;
  for await (const item of iterable) {
    out.push(item);
    if (out.length === count) break;
  }
  return out;
}

describe('EventBus', () => {
  it('delivers every event to every subscriber in publish order', async () => {
    const bus = new EventBus<ContainerEvent>();
    const a = bus.subscribe();
    const b = bus.subscribe();
    const c = bus.subscribe();
    const waiting = take(c, 5); // already waiting before anything is published
    for (let i = 0; i < 5; i++) bus.publish(event(i));
    const expected = [0, 1, 2, 3, 4].map((i) => `c${i}`);
    assert.deepEqual((await take(a, 5)).map((e) => e.containerId), expected);
    assert.deepEqual((await take(b, 5)).map((e) => e.containerId), expected);
    assert.deepEqual((await waiting).map((e) => e.containerId), expected);
    bus.close();
  });

  it('gives a late subscriber only later events', async () => {
    const bus = new EventBus<number>();
    bus.publish(1);
    const s = bus.subscribe();
    bus.publish(2);
    assert.deepEqual(await take(s, 1), [2]);
    bus.close();
  });

  it('drops a subscriber that falls behind without blocking publish or the others', async () => {
    const bus = new EventBus<number>({ queueSize: 3 });
    const slow = bus.subscribe();
    const fast = bus.subscribe();
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      bus.publish(i); // synchronous: returns without waiting for anyone
      const next = await fast.next();
      if (next.done !== true) seen.push(next.value);
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(slow.closed, true);
    assert.equal(bus.subscriberCount, 1);
    await assert.rejects(slow.next(), (err: unknown) => err instanceof SubscriberFellBehindError && /fell behind/.test(err.message));
    assert.deepEqual(await slow.next(), { value: undefined, done: true });
    bus.close();
  });

  it('ends a for-await loop with the fell-behind error', async () => {
    const bus = new EventBus<number>({ queueSize: 2 });
    const s = bus.subscribe();
    for (let i = 0; i < 3; i++) bus.publish(i);
    await assert.rejects(async () => {
      for await (const _ of s) assert.fail('buffered events are discarded on overflow');
    }, SubscriberFellBehindError);
  });

  it('close() of a subscription ends its pending next and detaches it', async () => {
    const bus = new EventBus<number>();
    const s = bus.subscribe();
    const other = bus.subscribe();
    const pending = s.next();
    s.close();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.equal(bus.subscriberCount, 1);
    bus.publish(1);
    assert.deepEqual(await s.next(), { value: undefined, done: true });
    assert.deepEqual(await other.next(), { value: 1, done: false });
    bus.close();
  });

  it('breaking out of for-await unsubscribes', async () => {
    const bus = new EventBus<number>();
    const s = bus.subscribe();
    bus.publish(1);
    bus.publish(2);
    for await (const n of s) {
      assert.equal(n, 1);
      break;
    }
    assert.equal(s.closed, true);
    assert.equal(bus.subscriberCount, 0);
  });

  it('closing the bus ends every subscriber, later subscriptions start ended', async () => {
    const bus = new EventBus<number>();
    const a = bus.subscribe();
    const b = bus.subscribe();
    const pending = a.next();
    bus.close();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.deepEqual(await b.next(), { value: undefined, done: true });
    bus.publish(1);
    const late = bus.subscribe();
    assert.equal(late.closed, true);
    assert.deepEqual(await late.next(), { value: undefined, done: true });
    assert.equal(bus.subscriberCount, 0);
  });

  it('rejects a nonsensical queue size', () => {
    assert.throws(() => new EventBus({ queueSize: 0 }), RangeError);
  });
});
