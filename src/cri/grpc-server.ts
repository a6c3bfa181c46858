import * as grpc from '@grpc/grpc-js';
import { CancelledError } from '../core/errors.js';
import type { CriContext } from './context.js';
import { passEncodedResponses } from './encoded-response.js';
import { grpcCodeName, toGrpcFailure } from './grpc-errors.js';
import { loadCriProto } from './proto.js';
import { MalformedRequest, malformedDetails, tolerantDecoders } from './request-decoding.js';

/**
 * A unary CRI handler: request in, response out; thrown errors become gRPC
 * statuses. `signal` aborts when the client cancels or its deadline passes;
 * only handlers that declare it (as a third parameter) are given one.
 */
export type UnaryHandler = (ctx: CriContext, request: never, signal?: AbortSignal) => Promise<object>;
/** A server-streaming CRI handler writes to the call until it ends or the client leaves. */
export type StreamHandler = (ctx: CriContext, request: never, call: grpc.ServerWritableStream<object, object>) => Promise<void>;

export interface ServiceHandlers {
  unary: Record<string, UnaryHandler>;
  /** Streams with an end (Stream* lists): at shutdown they may finish within the grace period. */
  stream?: Record<string, StreamHandler>;
  /** Streams that run until the client leaves (GetContainerEvents): ended at shutdown. */
  subscriptions?: Record<string, StreamHandler>;
}

export interface CriHandlers {
  RuntimeService: ServiceHandlers;
  ImageService: ServiceHandlers;
}

type AnyCall = grpc.ServerUnaryCall<object, object> | grpc.ServerWritableStream<object, object>;

/** Logs a finished call and counts it in berth_grpc_requests_total / berth_grpc_request_duration_seconds. */
function logCall(ctx: CriContext, rpc: string, started: bigint, code: grpc.status, details?: string): void {
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  const fields = { rpc, code: grpcCodeName(code), duration_ms: Math.round(durationMs * 1000) / 1000 };
  ctx.metrics.observeRpc(rpc, fields.code, durationMs / 1000);
  // winston formats a line before it checks the level: skip the work on the hot path.
  if (!ctx.logger.isDebugEnabled()) return;
  if (code === grpc.status.OK) ctx.logger.debug('rpc', fields);
  else ctx.logger.debug('rpc', { ...fields, error: details });
}

/**
 * Builds the grpc-js implementation of one CRI service: every method of the
 * proto gets a function, the ones berth has not built answer UNIMPLEMENTED
 * naming the method.
 */
function implementService(
  ctx: CriContext,
  serviceName: string,
  definition: grpc.ServiceDefinition,
  handlers: ServiceHandlers,
  inFlight: Set<AnyCall>,
  subscriptions: Set<grpc.ServerWritableStream<object, object>>,
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(definition)) {
    const rpc = `${serviceName}/${method}`;
    if (def.responseStream) {
      const subscription = handlers.subscriptions?.[method];
      const handler = subscription ?? handlers.stream?.[method];
      impl[method] = (call: grpc.ServerWritableStream<object, object>) => {
        const started = process.hrtime.bigint();
        if (!handler) {
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `${rpc} is not implemented by berth` });
          logCall(ctx, rpc, started, grpc.status.UNIMPLEMENTED, "not implemented");
          return;
        }
        if (call.request instanceof MalformedRequest) {
          const details = malformedDetails(rpc, call.request);
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
          logCall(ctx, rpc, started, grpc.status.INVALID_ARGUMENT, details);
          return;
        }
        const tracked = subscription ? subscriptions : inFlight;
        tracked.add(call);
        handler(ctx, call.request as never, call).then(
          () => {
            call.end();
            logCall(ctx, rpc, started, call.cancelled ? grpc.status.CANCELLED : grpc.status.OK);
          },
          (err: unknown) => {
            const failure = toGrpcFailure(err);
            if (failure.code === grpc.status.INTERNAL) ctx.logger.error(`${rpc} failed`, { error: failure.details });
            call.emit('error', failure);
            logCall(ctx, rpc, started, failure.code, failure.details);
          },
        ).finally(() => tracked.delete(call));
      };
      continue;
    }
    const handler = handlers.unary[method];
    // Only handlers that declare the signal parameter (PullImage) get one: the polled calls skip its cost.
    const wantsSignal = handler !== undefined && handler.length >= 3;
    impl[method] = (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      const started = process.hrtime.bigint();
      if (!handler) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${rpc} is not implemented by berth` });
        logCall(ctx, rpc, started, grpc.status.UNIMPLEMENTED, "not implemented");
        return;
      }
      if (call.request instanceof MalformedRequest) {
        const details = malformedDetails(rpc, call.request);
        callback({ code: grpc.status.INVALID_ARGUMENT, details });
        logCall(ctx, rpc, started, grpc.status.INVALID_ARGUMENT, details);
        return;
      }
      inFlight.add(call);
      let answered = false;
      let clientGone: AbortController | undefined;
      if (wantsSignal) {
        const controller = (clientGone = new AbortController());
        // grpc-js also emits 'cancelled' when the stream closes after the answer: nothing to abort then.
        call.once('cancelled', () => {
          if (!answered) controller.abort(new CancelledError(`${rpc} cancelled: the client went away or its deadline passed`));
        });
      }
      let result: Promise<object>;
      try {
        result = handler(ctx, call.request as never, clientGone?.signal);
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then(
        (response) => {
          answered = true;
          callback(null, response);
          logCall(ctx, rpc, started, grpc.status.OK);
        },
        (err: unknown) => {
          answered = true;
          const failure = toGrpcFailure(err);
          if (failure.code === grpc.status.INTERNAL) ctx.logger.error(`${rpc} failed`, { error: failure.details });
          callback(failure);
          logCall(ctx, rpc, started, failure.code, failure.details);
        },
      ).finally(() => inFlight.delete(call));
    };
  }
  return impl;
}

/** The CRI gRPC server on a unix socket. */
export class CriGrpcServer {
  private readonly server: grpc.Server;
  private readonly inFlight = new Set<AnyCall>();
  private readonly subscriptions = new Set<grpc.ServerWritableStream<object, object>>();

  constructor(ctx: CriContext, handlers: CriHandlers) {
    this.server = new grpc.Server({
      // kubelet sends and accepts messages up to 16 MiB (ListContainers on a busy node).
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
      'grpc.enable_channelz': 0,
    });
    const proto = loadCriProto();
    const v1 = proto.runtime.v1;
    this.server.addService(
      tolerantDecoders(passEncodedResponses(v1.RuntimeService.service)),
      implementService(ctx, 'runtime.v1.RuntimeService', v1.RuntimeService.service, handlers.RuntimeService, this.inFlight, this.subscriptions),
    );
    this.server.addService(
      tolerantDecoders(passEncodedResponses(v1.ImageService.service)),
      implementService(ctx, 'runtime.v1.ImageService', v1.ImageService.service, handlers.ImageService, this.inFlight, this.subscriptions),
    );
  }

  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /**
   * Stops accepting calls, ends the subscriptions, lets the other calls in
   * flight finish (a list stream ended early would tell kubelet, with OK, that
   * a partial list is whole), then resolves.
   */
  shutdown(graceMs: number): Promise<void> {
    for (const call of this.subscriptions) call.end();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
