import * as grpc from '@grpc/grpc-js';
import { SubscriberFellBehindError } from '../core/events/bus.js';
import { ResourceExhaustedError } from '../core/errors.js';
import type { GetEventsRequest__Output } from '../gen/cri/runtime/v1/GetEventsRequest.js';
import type { CriContext } from './context.js';
import { toContainerEventResponse } from './event-publisher.js';
import { writeWithBackpressure } from './stream-write.js';

/**
 * GetContainerEvents: streams every container and pod lifecycle event
 * published after the call starts. Ends when the client goes away or the
 * daemon stops; a client too slow to keep up is cut off with
 * RESOURCE_EXHAUSTED and must re-list, as the kubelet's evented PLEG does.
 */
export async function getContainerEvents(ctx: CriContext, _req: GetEventsRequest__Output, call: grpc.ServerWritableStream<object, object>): Promise<void> {
  const subscription = ctx.events.subscribe();
  const stop = (): void => subscription.close();
  call.on('cancelled', stop);
  call.on('close', stop);
  // Headers now, not with the first event: the client knows it is subscribed and misses nothing after this.
  call.sendMetadata(new grpc.Metadata());
  try {
    for await (const event of subscription) {
      if (call.cancelled) break;
      await writeWithBackpressure(call, toContainerEventResponse(event));
    }
  } catch (err) {
    if (err instanceof SubscriberFellBehindError) throw new ResourceExhaustedError(err.message, { cause: err });
    throw err;
  } finally {
    call.off('cancelled', stop);
    call.off('close', stop);
    subscription.close();
  }
}
