import type * as grpc from '@grpc/grpc-js';
import { boundedDetails } from './grpc-errors.js';

/** Stands in for a request whose bytes are not a valid protobuf message of the method's type. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/**
 * The service definition with decoders that never throw. grpc-js answers a
 * request it cannot decode with INTERNAL, which reads as a daemon fault; with
 * these decoders the handler sees a MalformedRequest and answers
 * INVALID_ARGUMENT, naming the message type, as for any other bad request.
 */
export function tolerantDecoders(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
}

/** The INVALID_ARGUMENT details for a request that could not be decoded. */
export function malformedDetails(rpc: string, request: MalformedRequest): string {
  return boundedDetails(`${rpc}: the request is not a valid protobuf message for this method (${request.reason})`);
}
