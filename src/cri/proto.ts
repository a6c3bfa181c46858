import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/cri/api.js';

/** Options shared by the server and every client: they fix how the generated types look. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Finds api/cri/api.proto from wherever the compiled module runs (dist/src/cri or src/cri). */
export function criProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'api', 'cri', 'api.proto');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('cannot find api/cri/api.proto next to the berth installation');
}

let cached: ProtoGrpcType | undefined;

export function loadCriProto(): ProtoGrpcType {
  if (!cached) {
    const definition = protoLoader.loadSync(criProtoPath(), PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}
