import type * as grpc from '@grpc/grpc-js';

/**
 * A response already in protobuf wire form: the server sends its bytes as
 * they are. The calls kubelet polls every second (ListContainers,
 * ListPodSandbox, ContainerStatus) answer with one built from bytes cached per
 * record, instead of re-encoding the same records on every call.
 */
export class EncodedResponse {
  constructor(readonly bytes: Buffer) {}
}

/** The service definition with response serializers that pass an EncodedResponse through untouched. */
export function passEncodedResponses(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = {
      ...method,
      responseSerialize: (value: unknown) => (value instanceof EncodedResponse ? value.bytes : method.responseSerialize(value)),
    };
  }
  return out;
}

/**
 * The encoded bytes of each record, computed once. Records are immutable
 * (CachedTable.update publishes a new object), so an entry keyed by the record
 * object never goes stale, and it goes away with the record.
 */
export class EncodingCache<R extends object> {
  private readonly entries = new WeakMap<R, Buffer>();

  constructor(private readonly encode: (record: R) => Buffer) {}

  bytes(record: R): Buffer {
    let bytes = this.entries.get(record);
    if (bytes === undefined) {
      bytes = this.encode(record);
      this.entries.set(record, bytes);
    }
    return bytes;
  }
}

/**
 * A list response built from per-element bytes (a repeated field is encoded
 * element after element). The last list built is kept while its elements are
 * the same record objects: a relist of an unchanged node allocates nothing,
 * which matters because V8 counts large Buffers towards its next full GC.
 */
export class EncodedList<R extends object> {
  private lastRecords: readonly R[] = [];
  private lastBytes = Buffer.alloc(0);

  constructor(private readonly elements: EncodingCache<R>) {}

  response(records: readonly R[]): EncodedResponse {
    const last = this.lastRecords;
    if (records.length !== last.length || records.some((r, i) => r !== last[i])) {
      this.lastBytes = Buffer.concat(records.map((r) => this.elements.bytes(r)));
      this.lastRecords = records;
    }
    return new EncodedResponse(this.lastBytes);
  }
}
