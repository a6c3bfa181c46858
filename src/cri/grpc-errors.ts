import { status as GrpcStatus } from '@grpc/grpc-js';
import { BerthError, isStorageFull, type BerthErrorCode } from '../core/errors.js';

const CODE_BY_ERROR: Record<BerthErrorCode, GrpcStatus> = {
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  UNIMPLEMENTED: GrpcStatus.UNIMPLEMENTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  CANCELLED: GrpcStatus.CANCELLED,
};

/**
 * Longest status message sent. Messages quote the request (ids, names), and
 * details travel in an HTTP/2 trailer: one over the client's header-list limit
 * (16 KiB in grpc-js) makes the client drop the whole connection, failing every
 * other call in flight on it.
 */
export const MAX_DETAILS_LENGTH = 4096;

export interface GrpcFailure {
  code: GrpcStatus;
  details: string;
}

/** Maps any thrown value to the gRPC status a client sees. */
export function toGrpcFailure(err: unknown): GrpcFailure {
  if (err instanceof BerthError) return { code: CODE_BY_ERROR[err.code], details: boundedDetails(err.message) };
  const message = err instanceof Error ? err.message : String(err);
  // A full disk anywhere (content, snapshots, database) is a resource problem, not a daemon fault.
  if (isStorageFull(err)) return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: boundedDetails(`no space left on device: ${message}`) };
  return { code: GrpcStatus.INTERNAL, details: boundedDetails(message) };
}

export function boundedDetails(message: string): string {
  if (message.length <= MAX_DETAILS_LENGTH) return message;
  return `${message.slice(0, MAX_DETAILS_LENGTH)}… (${message.length - MAX_DETAILS_LENGTH} more characters)`;
}

export function grpcCodeName(code: GrpcStatus): string {
  return GrpcStatus[code] ?? String(code);
}
