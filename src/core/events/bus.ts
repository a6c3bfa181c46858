import type { ContainerStatus } from '../../gen/cri/runtime/v1/ContainerStatus.js';
import type { PodSandboxStatus } from '../../gen/cri/runtime/v1/PodSandboxStatus.js';

export type ContainerEventType =
  | 'CONTAINER_CREATED_EVENT'
  | 'CONTAINER_STARTED_EVENT'
  | 'CONTAINER_STOPPED_EVENT'
  | 'CONTAINER_DELETED_EVENT';

/** What GetContainerEvents streams; the status types default to the CRI ones. */
export interface ContainerEvent<TSandboxStatus = PodSandboxStatus, TContainerStatus = ContainerStatus> {
  containerId: string;
  type: ContainerEventType;
  /** nanoseconds since the epoch, as a decimal string (int64 on the wire) */
  createdAt: string;
  podSandboxStatus: TSandboxStatus | null;
  containersStatuses: TContainerStatus[];
}

/** Raised to a subscriber whose queue overflowed: it missed events and must resync. */
export class SubscriberFellBehindError extends Error {
  constructor(readonly queueSize: number) {
    super(`event subscriber fell behind: more than ${queueSize} events were waiting, so it was dropped; subscribe again and re-list to resync`);
    this.name = 'SubscriberFellBehindError';
  }
}

export interface Subscription<T> extends AsyncIterableIterator<T> {
  /** stops delivery; a pending or later next() reports done */
  close(): void;
  readonly closed: boolean;
}

export interface EventBusOptions {
  /** events a subscriber may have waiting before it is dropped; default 1000 */
  queueSize?: number;
}

type Waiter<T> = { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void };

class QueueSubscription<T> implements Subscription<T> {
  private readonly queue: T[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private failure: Error | undefined;
  private ended = false;

  constructor(
    private readonly queueSize: number,
    private readonly detach: (s: QueueSubscription<T>) => void,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  /** Called by the bus; never blocks. */
  deliver(event: T): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ value: event, done: false });
      return;
    }
    if (this.queue.length >= this.queueSize) {
      this.fail(new SubscriberFellBehindError(this.queueSize));
      return;
    }
    this.queue.push(event);
  }

  /** Ends the subscription with an error; buffered events are discarded. */
  fail(error: Error): void {
    if (this.ended) return;
    this.queue.length = 0;
    this.failure = error;
    this.finish();
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  close(): void {
    if (this.ended) return;
    this.queue.length = 0;
    this.finish();
    for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  private finish(): void {
    this.ended = true;
    this.detach(this);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift() as T, done: false });
    if (this.failure !== undefined) {
      // Report the failure once, then behave as an ended iterator.
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * Fan-out of events to subscribers, as behind CRI GetContainerEvents. Every
 * subscriber sees every event published after it subscribed, in publish
 * order. publish never waits: each subscriber has a bounded queue, and one
 * that lets it fill up is dropped (its iterator fails with
 * SubscriberFellBehindError) instead of slowing the others, as containerd does.
 */
export class EventBus<T> {
  private readonly subscribers = new Set<QueueSubscription<T>>();
  private readonly queueSize: number;
  private closedBus = false;

  constructor(options: EventBusOptions = {}) {
    const queueSize = options.queueSize ?? 1000;
    if (!Number.isInteger(queueSize) || queueSize < 1) throw new RangeError(`event queue size must be a positive integer, got ${queueSize}`);
    this.queueSize = queueSize;
  }

  publish(event: T): void {
    if (this.closedBus) return;
    // Copy: a subscriber dropped during delivery leaves the set.
    for (const subscriber of [...this.subscribers]) subscriber.deliver(event);
  }

  subscribe(): Subscription<T> {
    const subscription = new QueueSubscription<T>(this.queueSize, (s) => this.subscribers.delete(s));
    if (this.closedBus) subscription.close();
    else this.subscribers.add(subscription);
    return subscription;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Ends every subscription (they report done); later publishes are ignored. */
  close(): void {
    this.closedBus = true;
    for (const subscriber of [...this.subscribers]) subscriber.close();
  }
}

/** The bus behind GetContainerEvents. */
export type ContainerEventBus = EventBus<ContainerEvent>;
