/**
 * The floor under a list/status call: the bench's client against a server
 * that replays the daemon's own response bytes and does nothing else
 * (bench/replay-server.ts). What is left between a daemon and its floor is
 * the daemon's own cost.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectCri, type CriClients } from '../src/client/cri-client.js';
import { loadCriProto } from '../src/cri/proto.js';

export interface ReplayedCall {
  /** Method of runtime.v1.RuntimeService. */
  method: string;
  request: object;
}

const SERVICE = 'runtime.v1.RuntimeService';

/** Each call's response as the daemon sent it (raw bytes, not decoded and re-encoded). */
async function recordResponses(socket: string, calls: readonly ReplayedCall[]): Promise<Record<string, string>> {
  const service = loadCriProto().runtime.v1.RuntimeService.service as grpc.ServiceDefinition;
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  try {
    const out: Record<string, string> = {};
    for (const { method, request } of calls) {
      const def = service[method];
      if (!def) throw new Error(`no method ${method}`);
      const bytes = await new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(`/${SERVICE}/${method}`, def.requestSerialize, (b: Buffer) => b, request, (err, res) => (err ? reject(err) : resolve(res!)));
      });
      out[`/${SERVICE}/${method}`] = bytes.toString('base64');
    }
    return out;
  } finally {
    client.close();
  }
}

const REPLAY_SERVER = fileURLToPath(new URL('./replay-server.js', import.meta.url));
const READY_TIMEOUT_MS = 10_000;

/** Resolves once the replay server prints "ready"; rejects if it exits, fails to start, or takes too long. */
function replayServerReady(server: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`replay server: ${why}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    server.once('error', (err) => fail(err.message));
    server.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
    server.stdout!.once('data', (chunk: Buffer) => {
      if (!chunk.toString().startsWith('ready')) return fail(`said ${JSON.stringify(chunk.toString())}`);
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Records `calls` from the daemon at `socket`, serves them from a replay server, and hands `measure` a client of it. */
export async function withReplayServer<T>(socket: string, workDir: string, calls: readonly ReplayedCall[], measure: (cri: CriClients) => Promise<T>): Promise<T> {
  const responsesFile = join(workDir, 'replay-responses.json');
  await writeFile(responsesFile, JSON.stringify(await recordResponses(socket, calls)));
  const replaySocket = join(workDir, 'replay.sock');
  const server = spawn(process.execPath, [REPLAY_SERVER, replaySocket, responsesFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await replayServerReady(server);
    const cri = connectCri(replaySocket, 30_000);
    try {
      return await measure(cri);
    } finally {
      cri.close();
    }
  } finally {
    server.kill();
  }
}
