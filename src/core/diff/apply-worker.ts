/** Worker-thread side of LayerApplyWorkers: one applyLayer at a time, on a layer file. */
import { createReadStream } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { BerthError } from '../errors.js';
import { applyLayer } from './apply.js';
import type { WorkerReply, WorkerRequest } from './apply-workers.js';

const READ_CHUNK_BYTES = 1 << 20;
const port = parentPort;
if (!port) throw new Error('apply-worker.js runs only as a worker thread of LayerApplyWorkers');

const waitingForLowers = new Map<number, { resolve(dirs: readonly string[]): void; reject(err: Error): void }>();
const reply = (message: WorkerReply): void => port.postMessage(message);

port.on('message', (message: WorkerRequest) => {
  if (message.type !== 'apply') {
    const waiting = waitingForLowers.get(message.job);
    waitingForLowers.delete(message.job);
    if (message.type === 'lowers') waiting?.resolve(message.dirs);
    else waiting?.reject(new Error(message.message));
    return;
  }
  const { job, path, root, whiteoutMode, expectedDiffId } = message;
  applyLayer(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), {
    root,
    whiteoutMode,
    ...(expectedDiffId !== undefined ? { expectedDiffId } : {}),
    lowerDirs: () =>
      new Promise<readonly string[]>((resolve, reject) => {
        waitingForLowers.set(job, { resolve, reject });
        reply({ type: 'needLowers', job });
      }),
  }).then(
    (result) => reply({ type: 'done', job, result }),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      reply({ type: 'failed', job, error: { name: e.name, message: e.message, ...(e instanceof BerthError ? { code: e.code } : {}) } });
    },
  );
});
