/**
 * Hostile CRI requests for the reliability suite: every RuntimeService and
 * ImageService method, fed messages built from the proto's own descriptors
 * with hostile values, and raw bytes that are not valid protobuf at all.
 * Requests go out as raw buffers through a passthrough grpc-js client, so the
 * daemon sees exactly the bytes generated here.
 */
import * as grpc from '@grpc/grpc-js';
import { loadCriProto } from '../../src/cri/proto.js';
import type { Prng } from './prng.js';

export interface CriMethod {
  service: 'RuntimeService' | 'ImageService';
  name: string;
  /** `/runtime.v1.RuntimeService/Version` */
  path: string;
  responseStream: boolean;
  requestType: MessageDescriptor;
  serialize(request: object): Buffer;
  /** Decodes as the daemon would (throws on bytes it could not decode). */
  deserialize(bytes: Buffer): unknown;
}

interface FieldDescriptor {
  name: string;
  number: number;
  label: 'LABEL_OPTIONAL' | 'LABEL_REPEATED' | 'LABEL_REQUIRED';
  type: string;
  typeName: string;
}

export interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  options: { mapEntry?: boolean } | null;
}

interface EnumDescriptor {
  value: { name: string; number: number }[];
}

type TypeDefinition = { format: string; type: MessageDescriptor | EnumDescriptor };

interface ProtoMethod {
  path: string;
  responseStream: boolean;
  requestSerialize(value: object): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  requestType: { type: MessageDescriptor };
}

function criTypes(): Record<string, TypeDefinition> {
  return loadCriProto().runtime.v1 as unknown as Record<string, TypeDefinition>;
}

/** Every method of both CRI services, in proto order. */
export function criMethods(): CriMethod[] {
  const v1 = loadCriProto().runtime.v1;
  const services = { RuntimeService: v1.RuntimeService.service, ImageService: v1.ImageService.service };
  const out: CriMethod[] = [];
  for (const [service, definition] of Object.entries(services) as [CriMethod['service'], grpc.ServiceDefinition][]) {
    for (const [name, raw] of Object.entries(definition)) {
      const method = raw as unknown as ProtoMethod;
      out.push({
        service,
        name,
        path: method.path,
        responseStream: method.responseStream,
        requestType: method.requestType.type,
        serialize: (request) => method.requestSerialize(request),
        deserialize: (bytes) => method.requestDeserialize(bytes),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Hostile values

const FIXED_STRINGS: readonly string[] = [
  '', ' ', '/', '.', '..', '../', '../../../../../../etc/passwd', '/etc/passwd', '/proc/self/root', '/dev/mem',
  'a/../../b', './..', '..\\..\\windows', '%2e%2e%2f', '\0', 'abc\0def', '\n\r\t', '\x1b[31m', '\u202e', '💥💥💥',
  '\ud800', '*', '?', '-rf', '--help', '$(reboot)', '`id`', ';ls', '|id', 'sha256:', `sha256:${'z'.repeat(64)}`,
  'sha512:abc', '@', ':', 'a:b:c', 'x@sha256:zz', 'UPPER/Case:Tag', '127.0.0.1:1/closed:tag', 'localhost:0/x',
  '-1', '18446744073709551616', 'NaN', 'null', '{}', '__proto__', 'constructor', 'hasOwnProperty', 'toString',
  '10.0.0.0/33', '999.1.1.1/8', 'fe80::/129', ',', 'RuntimeDefault', 'localhost/../../../etc/shadow', 'unconfined',
];

const INT32 = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 65535, 65536, 70000, -70000] as const;
const UINT32 = [0, 1, 2 ** 32 - 1, 2 ** 31, 65536] as const;
const INT64 = ['0', '-1', '1', '9223372036854775807', '-9223372036854775808', '4294967296', '-4294967296', '9007199254740993'] as const;
const UINT64 = ['0', '1', '18446744073709551615', '9223372036854775808', '4294967296'] as const;
const DOUBLES = [0, -0, 1e308, -1e308, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324] as const;

/**
 * Strings meant to be refused or to match nothing: path escapes, NULs,
 * control and lone-surrogate characters, shell and flag syntax, huge sizes,
 * well-formed but unknown 64-hex ids. Never a prefix of a live id (`isLive`).
 */
export class HostileStrings {
  constructor(
    private readonly rng: Prng,
    private readonly isLive: (s: string) => boolean,
  ) {}

  next(): string {
    for (;;) {
      const s = this.candidate();
      if (!this.isLive(s)) return s;
    }
  }

  private candidate(): string {
    const rng = this.rng;
    switch (rng.int(0, 9)) {
      case 0:
        return rng.hex(64); // a well-formed id nothing has
      case 1:
        return `sha256:${rng.hex(64)}`;
      case 2:
        return 'x'.repeat(rng.pick([253, 254, 4097, 65_536]));
      case 3:
        return rng.chance(0.2) ? 'y'.repeat(1 << 20) : `${rng.hex(12)}/${rng.pick(FIXED_STRINGS)}`;
      case 4:
        return rng.bytes(rng.int(1, 40)).toString('latin1');
      default:
        return rng.pick(FIXED_STRINGS);
    }
  }
}

export interface FuzzOptions {
  rng: Prng;
  strings: HostileStrings;
  /** Deepest nesting of sub-messages. */
  maxDepth?: number;
}

/** Builds request objects for any CRI message type, every field filled with hostile values or left out. */
export class MessageFuzzer {
  private readonly types = criTypes();
  private readonly maxDepth: number;

  constructor(private readonly options: FuzzOptions) {
    this.maxDepth = options.maxDepth ?? 4;
  }

  message(descriptor: MessageDescriptor, depth = 0): Record<string, unknown> {
    const rng = this.options.rng;
    const out: Record<string, unknown> = {};
    for (const field of descriptor.field) {
      if (rng.chance(0.25)) continue; // absent
      const nested = field.type === 'TYPE_MESSAGE' ? this.resolveMessage(descriptor, field.typeName) : undefined;
      if (nested?.options?.mapEntry) {
        out[field.name] = this.map(nested);
        continue;
      }
      if (field.label === 'LABEL_REPEATED') {
        const count = rng.chance(0.02) ? 500 : rng.int(0, 3);
        const values: unknown[] = [];
        for (let i = 0; i < count; i++) {
          const value = this.value(field, nested, depth);
          if (value !== undefined) values.push(value);
        }
        out[field.name] = values;
      } else {
        const value = this.value(field, nested, depth);
        if (value !== undefined) out[field.name] = value;
      }
    }
    return out;
  }

  private map(entry: MessageDescriptor): Record<string, unknown> {
    const rng = this.options.rng;
    const valueField = entry.field.find((f) => f.name === 'value')!;
    const nested = valueField.type === 'TYPE_MESSAGE' ? this.resolveMessage(entry, valueField.typeName) : undefined;
    const out: Record<string, unknown> = {};
    const count = rng.chance(0.02) ? 2000 : rng.int(0, 3);
    for (let i = 0; i < count; i++) {
      const value = this.value(valueField, nested, this.maxDepth);
      // Object.defineProperty: a key like __proto__ must become a real entry.
      Object.defineProperty(out, this.options.strings.next(), { value: value ?? {}, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  private value(field: FieldDescriptor, nested: MessageDescriptor | undefined, depth: number): unknown {
    const rng = this.options.rng;
    switch (field.type) {
      case 'TYPE_STRING':
        return this.options.strings.next();
      case 'TYPE_BYTES':
        return rng.bytes(rng.int(0, 64));
      case 'TYPE_BOOL':
        return rng.chance(0.5);
      case 'TYPE_INT32':
      case 'TYPE_SINT32':
      case 'TYPE_SFIXED32':
        return rng.chance(0.8) ? rng.pick(INT32) : rng.int(-(2 ** 31), 2 ** 31 - 1);
      case 'TYPE_UINT32':
      case 'TYPE_FIXED32':
        return rng.pick(UINT32);
      case 'TYPE_INT64':
      case 'TYPE_SINT64':
      case 'TYPE_SFIXED64':
        return rng.pick(INT64);
      case 'TYPE_UINT64':
      case 'TYPE_FIXED64':
        return rng.pick(UINT64);
      case 'TYPE_DOUBLE':
      case 'TYPE_FLOAT':
        return rng.pick(DOUBLES);
      case 'TYPE_ENUM': {
        const values = (this.types[field.typeName]?.type as EnumDescriptor | undefined)?.value ?? [];
        return rng.chance(0.7) && values.length > 0 ? rng.pick(values).number : rng.pick([-1, 99, 2 ** 31 - 1]);
      }
      case 'TYPE_MESSAGE':
        if (!nested || depth >= this.maxDepth) return undefined;
        return this.message(nested, depth + 1);
      default:
        return undefined;
    }
  }

  private resolveMessage(parent: MessageDescriptor, typeName: string): MessageDescriptor | undefined {
    const local = parent.nestedType.find((n) => n.name === typeName);
    if (local) return local;
    const def = this.types[typeName];
    return def && 'field' in def.type ? def.type : undefined;
  }
}

// ---------------------------------------------------------------------------
// Bytes that are not (valid) protobuf

function varint(value: bigint): Buffer {
  const bytes: number[] = [];
  let v = value;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}

function tag(field: number, wireType: number): Buffer {
  return varint(BigInt((field << 3) | wireType));
}

/**
 * Malformed encodings: wrong wire types for known fields, lengths running past
 * the end, invalid wire types 6 and 7, unbalanced groups, overlong varints,
 * field number 0, random noise, and valid messages with bytes flipped or cut.
 */
export function malformedBytes(rng: Prng, valid: Buffer, fieldNumbers: readonly number[]): Buffer {
  const field = fieldNumbers.length > 0 && rng.chance(0.8) ? rng.pick(fieldNumbers) : rng.int(1, 40);
  switch (rng.int(0, 10)) {
    case 0:
      return rng.bytes(rng.int(1, 512));
    case 1: // a varint where a string/message is expected, and the reverse
      return Buffer.concat([tag(field, 0), varint(BigInt(rng.int(0, 2 ** 31))), tag(field, 2), varint(3n), Buffer.from('abc')]);
    case 2: // a length prefix far past the end
      return Buffer.concat([tag(field, 2), varint(BigInt(rng.pick([100, 2 ** 31, 2 ** 32 + 5]))), rng.bytes(rng.int(0, 20))]);
    case 3: // wire types 6 and 7 do not exist
      return Buffer.concat([tag(field, rng.pick([6, 7])), rng.bytes(rng.int(0, 16))]);
    case 4: // start group without end, end group without start
      return rng.chance(0.5) ? Buffer.concat([tag(field, 3), tag(field + 1, 0), varint(1n)]) : tag(field, 4);
    case 5: // an 11-byte varint
      return Buffer.concat([tag(field, 0), Buffer.alloc(11, 0xff)]);
    case 6: // field number 0
      return Buffer.concat([Buffer.from([0x00]), rng.bytes(rng.int(0, 8))]);
    case 7: // fixed32/fixed64 cut short
      return Buffer.concat([tag(field, rng.pick([1, 5])), rng.bytes(rng.int(0, 3))]);
    case 8: // a valid message cut short
      return valid.length > 1 ? valid.subarray(0, rng.int(1, valid.length - 1)) : rng.bytes(3);
    case 9: {
      // a valid message with a few bytes flipped
      const copy = Buffer.from(valid.length > 0 ? valid : rng.bytes(8));
      for (let i = rng.int(1, 4); i > 0; i--) copy[rng.int(0, copy.length - 1)] = rng.int(0, 255);
      return copy;
    }
    default: // a nested message field holding garbage
      {
        const inner = rng.bytes(rng.int(1, 64));
        return Buffer.concat([tag(field, 2), varint(BigInt(inner.length)), inner]);
      }
  }
}

// ---------------------------------------------------------------------------
// Sending raw bytes

export interface RawOutcome {
  code: grpc.status;
  details: string;
  /** Server-streaming calls that opened and kept streaming until we cancelled them. */
  streamOpen?: boolean;
}

const passthrough = (b: Buffer): Buffer => b;

/** A grpc-js client that sends and receives raw bytes for any CRI method path. */
export class RawCriClient {
  private readonly client: grpc.Client;

  constructor(socketPath: string) {
    this.client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  /** One call; never rejects: the outcome is the status the daemon answered. */
  call(method: CriMethod, bytes: Buffer, deadlineMs: number): Promise<RawOutcome> {
    const deadline = Date.now() + deadlineMs;
    if (!method.responseStream) {
      return new Promise((resolve) => {
        this.client.makeUnaryRequest(method.path, passthrough, passthrough, bytes, new grpc.Metadata(), { deadline }, (err) => {
          resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
        });
      });
    }
    return new Promise((resolve) => {
      const call = this.client.makeServerStreamRequest(method.path, passthrough, passthrough, bytes, new grpc.Metadata(), { deadline });
      let settled = false;
      const settle = (outcome: RawOutcome): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      call.on('data', () => undefined);
      call.on('error', (err: grpc.ServiceError) => {
        settle(err.code === grpc.status.CANCELLED ? { code: grpc.status.OK, details: '', streamOpen: true } : { code: err.code, details: err.details });
      });
      call.on('status', (status: grpc.StatusObject) => settle({ code: status.code, details: status.details }));
      // A stream the daemon accepted stays open (events): once it has answered with headers, it is alive.
      call.on('metadata', () => {
        setImmediate(() => {
          if (!settled) call.cancel();
        });
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
