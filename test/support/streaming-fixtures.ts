import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { loadCriProto } from '../../src/cri/proto.js';
import type { StreamIO, StreamingBackend, TerminalSize } from '../../src/cri/streaming/backend.js';
import type { StreamingServer } from '../../src/cri/streaming/server.js';
import { crictlEndpoint } from './exec.js';

/**
 * A StreamingBackend over host processes: exec spawns the command on this
 * machine, attach echoes stdin back, port-forward dials 127.0.0.1 through a
 * port map. It records what it saw so tests can assert on it.
 */
export class HostBackend implements StreamingBackend {
  execCalls = 0;
  aborts = 0;
  readonly resizes: TerminalSize[] = [];
  readonly portMap = new Map<number, number>();
  readonly forwardedPorts: number[] = [];

  async exec(_containerId: string, cmd: string[], io: StreamIO): Promise<number> {
    this.execCalls++;
    io.resize?.subscribe((size: TerminalSize) => this.resizes.push(size));
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: [io.stdin ? 'pipe' : 'ignore', io.stdout ? 'pipe' : 'ignore', io.stderr ? 'pipe' : 'ignore'] });
    const onAbort = (): void => {
      this.aborts++;
      child.kill('SIGKILL');
    };
    io.signal.addEventListener('abort', onAbort, { once: true });
    if (io.stdin && child.stdin) {
      child.stdin.on('error', () => undefined);
      io.stdin.pipe(child.stdin);
    }
    if (io.stdout && child.stdout) child.stdout.pipe(io.stdout, { end: false });
    if (io.stderr && child.stderr) child.stderr.pipe(io.stderr, { end: false });
    try {
      const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
      if (code === null) throw new Error(`command killed by ${signal ?? 'a signal'}`);
      return code;
    } finally {
      io.signal.removeEventListener('abort', onAbort);
      io.stdin?.unpipe();
    }
  }

  async attach(_containerId: string, io: StreamIO): Promise<void> {
    io.stdout?.write('attached\n');
    if (!io.stdin) return;
    io.resize?.subscribe((size: TerminalSize) => this.resizes.push(size));
    for await (const chunk of io.stdin) {
      io.stdout?.write(Buffer.from(String(chunk).toUpperCase()));
      if (io.signal.aborted) break;
    }
  }

  async portForward(_podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
    this.forwardedPorts.push(port);
    const target = this.portMap.get(port);
    if (target === undefined) throw new Error(`nothing listens on port ${port}`);
    const socket = net.connect(target, '127.0.0.1');
    socket.on('error', () => undefined);
    const onAbort = (): void => {
      socket.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await once(socket, 'connect');
      stream.pipe(socket);
      socket.pipe(stream);
      await once(socket, 'close');
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.unpipe(socket);
    }
  }
}

export interface CriStub {
  socket: string;
  stop(): Promise<void>;
}

/** A gRPC RuntimeService answering only Version, Exec, Attach and PortForward from the streaming server. */
export async function startCriStub(streaming: StreamingServer): Promise<CriStub> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-stream-cri-'));
  const socket = join(dir, 'cri.sock');
  const proto = loadCriProto();
  const server = new grpc.Server();
  type Call<T> = grpc.ServerUnaryCall<T, object>;
  const reply = <T>(fn: (req: T) => object) => (call: Call<T>, cb: grpc.sendUnaryData<object>) => {
    try {
      cb(null, fn(call.request));
    } catch (err) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
    }
  };
  server.addService(proto.runtime.v1.RuntimeService.service, {
    Version: reply(() => ({ version: '0.1.0', runtime_name: 'berth-stream-test', runtime_version: '0.0.0', runtime_api_version: 'v1' })),
    Exec: reply((req: { container_id: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }) => ({
      url: streaming.getExecUrl({ containerId: req.container_id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }),
    })),
    Attach: reply((req: { container_id: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }) => ({
      url: streaming.getAttachUrl({ containerId: req.container_id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }),
    })),
    PortForward: reply((req: { pod_sandbox_id: string }) => ({ url: streaming.getPortForwardUrl({ podSandboxId: req.pod_sandbox_id }) })),
  });
  // crictl checks that the endpoint also speaks the image API before any command.
  server.addService(proto.runtime.v1.ImageService.service, {
    ImageFsInfo: reply(() => ({ image_filesystems: [], container_filesystems: [] })),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return {
    socket,
    stop: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ProcessResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program with optional stdin input and a hard time limit. */
export function runWithInput(command: string, args: string[], input?: Buffer | string, timeoutMs = 60_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => undefined);
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/**
 * A line for a shell on a terminal: waits until the terminal has the given
 * size, then prints sized-<rows>x<cols>. The marker is computed by the shell,
 * so the terminal's echo of the typed line never matches it.
 */
export function awaitSize(rows: number, cols: number): string {
  return `while [ "$(stty size)" != "${rows} ${cols}" ]; do sleep 0.1; done; echo sized-$((${rows}+0))x$((${cols}+0))\n`;
}

export function crictlArgs(socket: string, args: string[]): string[] {
  return [...crictlEndpoint(socket), '--timeout', '30s', ...args];
}

/** Number of open file descriptors of this process. */
export async function openFdCount(): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir('/proc/self/fd')).length;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
