import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { ImageServiceDefinition } from '../gen/cri/runtime/v1/ImageService.js';
import type { RuntimeServiceDefinition } from '../gen/cri/runtime/v1/RuntimeService.js';
import { loadCriProto } from '../cri/proto.js';

/** Each unary method of a service as `(request, timeoutMs?) => Promise<response>`. */
export type PromiseClient<D> = {
  [K in keyof D]: D[K] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer ResOut>
    ? (request: Req, timeoutMs?: number) => Promise<ResOut>
    : never;
};

/** Server-streaming methods of either service: the raw grpc-js call, read as an async iterable of responses. */
export type StreamOpener = (method: string, request: object) => grpc.ClientReadableStream<unknown>;

export interface CriClients {
  runtime: PromiseClient<RuntimeServiceDefinition>;
  image: PromiseClient<ImageServiceDefinition>;
  openStream: StreamOpener;
  close(): void;
}

type RawMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback?: (err: grpc.ServiceError | null, res?: unknown) => void,
) => unknown;

function promiseClient<D extends grpc.ServiceDefinition>(client: grpc.Client, definition: D, defaultTimeoutMs: number): PromiseClient<D> {
  const out: Record<string, (request: unknown, timeoutMs?: number) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    if (method.responseStream || method.requestStream) continue;
    const raw = (client as unknown as Record<string, RawMethod>)[name]!;
    out[name] = (request, timeoutMs = defaultTimeoutMs) =>
      new Promise((resolve, reject) => {
        raw.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
          if (err) reject(err);
          else resolve(res);
        });
      });
  }
  return out as unknown as PromiseClient<D>;
}

/** Connects to berthd (or any CRI runtime) over its unix socket. */
export function connectCri(socketPath: string, defaultTimeoutMs = 120_000): CriClients {
  const v1 = loadCriProto().runtime.v1;
  const target = `unix://${socketPath}`;
  const options = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
  const runtime = new v1.RuntimeService(target, grpc.credentials.createInsecure(), options);
  const image = new v1.ImageService(target, grpc.credentials.createInsecure(), options);
  return {
    runtime: promiseClient(runtime, v1.RuntimeService.service as RuntimeServiceDefinition, defaultTimeoutMs),
    image: promiseClient(image, v1.ImageService.service as ImageServiceDefinition, defaultTimeoutMs),
    openStream: (method, request) => {
      for (const client of [runtime, image]) {
        const raw = (client as unknown as Record<string, (req: object) => grpc.ClientReadableStream<unknown>>)[method];
        if (raw) return raw.call(client, request);
      }
      throw new Error(`no streaming method ${method}`);
    },
    close: () => {
      runtime.close();
      image.close();
    },
  };
}
