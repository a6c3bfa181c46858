/** Worker-thread side of LayerApplyWorkers: one applyLayer at a time, on a layer file (finished or still growing). */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { BerthError } from '../errors.js';
import { applyLayer, type ApplyOptions } from './apply.js';
import type { WorkerLayerSource, WorkerReply, WorkerRequest } from './apply-workers.js';
import { GrowingFileReader } from './growing-file.js';

const READ_CHUNK_BYTES = 1 << 20;
const port = parentPort;
if (!port) throw new Error('apply-worker.js runs only as a worker thread of LayerApplyWorkers');

const waitingForLowers = new Map<number, { resolve(dirs: readonly string[]): void; reject(err: Error): void }>();
const growing = new Map<number, GrowingFileReader>();
/** The input stream of each running job, so a cancel can stop it. */
const inputs = new Map<number, Readable>();
const reply = (message: WorkerReply): void => port.postMessage(message);

function open(job: number, source: WorkerLayerSource, size: number): { stream: Readable; unverified?: ApplyOptions['unverified'] } {
  if (source.kind === 'file') return { stream: createReadStream(source.path, { highWaterMark: READ_CHUNK_BYTES }) };
  const reader = new GrowingFileReader(source.fd, size, source.available);
  growing.set(job, reader);
  return { stream: reader, unverified: { bytes: source.unverifiedLimit, verified: () => reader.verified } };
}

port.on('message', (message: WorkerRequest) => {
  switch (message.type) {
    case 'grown':
      growing.get(message.job)?.grow(message.available);
      return;
    case 'cancel':
      inputs.get(message.job)?.destroy(new Error(message.message));
      return;
    case 'sourceVerified':
      growing.get(message.job)?.complete();
      return;
    case 'sourceFailed':
      growing.get(message.job)?.fail(new Error(message.message));
      return;
    case 'lowers':
    case 'lowersFailed': {
      const waiting = waitingForLowers.get(message.job);
      waitingForLowers.delete(message.job);
      if (message.type === 'lowers') waiting?.resolve(message.dirs);
      else waiting?.reject(new Error(message.message));
      return;
    }
    case 'apply':
      break;
  }
  const { job, source, size, root, whiteoutMode, expectedDiffId } = message;
  const { stream, unverified } = open(job, source, size);
  inputs.set(job, stream);
  applyLayer(stream, {
    root,
    whiteoutMode,
    ...(unverified ? { unverified } : {}),
    ...(expectedDiffId !== undefined ? { expectedDiffId } : {}),
    lowerDirs: () =>
      new Promise<readonly string[]>((resolve, reject) => {
        waitingForLowers.set(job, { resolve, reject });
        reply({ type: 'needLowers', job });
      }),
  })
    .then(
      (result) => reply({ type: 'done', job, result }),
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        reply({ type: 'failed', job, error: { name: e.name, message: e.message, ...(e instanceof BerthError ? { code: e.code } : {}) } });
      },
    )
    .finally(() => {
      growing.delete(job);
      inputs.delete(job);
    });
});
