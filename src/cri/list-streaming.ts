/**
 * The Stream* calls of CRI's list streaming (feature gate CRIListStreaming,
 * KEP-5825): the same items as the matching List call, sent as a stream of
 * responses that each hold at least one item and stay far under the gRPC
 * message limit, so a node with many pods never hits it. No item is sent
 * twice; an empty list is a stream with no responses.
 *
 * Each Stream* request carries the List request's fields under the same
 * numbers, and each response repeats the List response's items as its field
 * 1: the List answer's bytes split at its items are the Stream answers' items.
 */
import { EncodedResponse } from './encoded-response.js';
import type { StreamHandler, UnaryHandler } from './grpc-server.js';
import { loadCriProto } from './proto.js';
import { writeWithBackpressure } from './stream-write.js';

/** The most one streamed response holds, unless a single item is bigger (kubelet accepts 16 MiB). */
export const STREAM_BATCH_BYTES = 1024 * 1024;

/** Field 1, wire type 2 (length-delimited): how every List response encodes its items. */
const ITEM_TAG = 0x0a;

function readVarint(bytes: Buffer, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < bytes.length && i < offset + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  throw new Error('truncated varint in a list response');
}

/** The encoded items (tag and length included) of a message holding only repeated field 1. */
export function listItems(message: Buffer): Buffer[] {
  const items: Buffer[] = [];
  let offset = 0;
  while (offset < message.length) {
    const tag = readVarint(message, offset);
    if (tag.value !== ITEM_TAG) throw new Error(`list response holds field tag ${tag.value}, not only items`);
    const length = readVarint(message, tag.next);
    const end = length.next + length.value;
    if (end > message.length) throw new Error('list response item runs past its end');
    items.push(message.subarray(offset, end));
    offset = end;
  }
  return items;
}

/** Items grouped in order into batches of at most `maxBytes` (an item bigger than that is a batch alone). */
export function batchItems(items: readonly Buffer[], maxBytes: number): Buffer[][] {
  const batches: Buffer[][] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const item of items) {
    if (current.length > 0 && size + item.length > maxBytes) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** A Stream* handler answering with what `list` (the List handler of `listMethod` in `service`) answers. */
export function streamedList(service: 'RuntimeService' | 'ImageService', listMethod: string, list: UnaryHandler, maxBytes = STREAM_BATCH_BYTES): StreamHandler {
  return async (ctx, request, call) => {
    const answer = await list(ctx, request);
    const bytes = answer instanceof EncodedResponse ? answer.bytes : loadCriProto().runtime.v1[service].service[listMethod]!.responseSerialize(answer);
    for (const batch of batchItems(listItems(bytes), maxBytes)) {
      if (call.cancelled) return;
      await writeWithBackpressure(call, new EncodedResponse(Buffer.concat(batch)));
    }
  };
}
