import { status as GrpcStatus } from '@grpc/grpc-js';
import { BerthError, type BerthErrorCode } from '../core/errors.js';

const CODE_BY_ERROR: Record<BerthErrorCode, GrpcStatus> = {
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  UNIMPLEMENTED: GrpcStatus.UNIMPLEMENTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
};

export interface GrpcFailure {
  code: GrpcStatus;
  details: string;
}

/** Maps any thrown value to the gRPC status a client sees. */
export function toGrpcFailure(err: unknown): GrpcFailure {
  if (err instanceof BerthError) return { code: CODE_BY_ERROR[err.code], details: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: GrpcStatus.INTERNAL, details: message };
}

export function grpcCodeName(code: GrpcStatus): string {
  return GrpcStatus[code] ?? String(code);
}
