/**
 * Pulls that share work: a big layer is unpacked while it downloads, and two
 * pulls of it (different credentials, so two pull flights) share one download
 * and one unpack. When the first pull's client gives up, the second pull
 * still completes from that same download; when the shared download fails for
 * the first pull (its repository lies), the second downloads the layer itself.
 * The registry here serves the big layer slowly (a chunk every few
 * milliseconds) so the pulls overlap.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BERTHCTL, startDaemon, type TestDaemon } from '../support/daemon.js';
import { buildImage, buildLayer, type BuiltImage } from '../support/oci-image.js';
import { run } from '../support/exec.js';
import { waitUntil } from '../support/wait.js';

const CHUNK_BYTES = 64 * 1024;
const CHUNK_INTERVAL_MS = 15;

interface ThrottledRegistry {
  host: string;
  /** GET requests per blob digest. */
  blobGets: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves each image as its repository, the blobs in `slow` a chunk at a time;
 * a repository in `lying` serves the blobs listed for it with a byte in the
 * middle changed (as lying-registry.ts's `wrong-blob` does with the last one):
 * its digest is wrong and, for a gzip layer, so is what it decompresses to.
 */
async function startThrottledRegistry(
  repos: Record<string, BuiltImage>,
  slow: ReadonlySet<string>,
  lying: Record<string, ReadonlySet<string>> = {},
): Promise<ThrottledRegistry> {
  const blobs = new Map<string, Buffer>();
  for (const image of Object.values(repos)) {
    blobs.set(image.config.digest, image.config.data);
    for (const l of image.layers) blobs.set(l.digest, l.data);
  }
  const blobGets = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const m = /^\/v2\/([^/]+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url ?? '');
    const image = m ? repos[m[1]!] : undefined;
    if (!m || !image) return void res.writeHead(404).end();
    if (m[2] === 'manifests') {
      const body = image.manifest.data;
      res.writeHead(200, { 'content-type': image.manifest.mediaType, 'content-length': body.length, 'docker-content-digest': image.manifest.digest });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const stored = blobs.get(m[3]!);
    if (!stored) return void res.writeHead(404).end();
    let data = stored;
    if (lying[m[1]!]?.has(m[3]!)) {
      data = Buffer.from(stored);
      data[data.length >> 1]! ^= 0xff;
    }
    blobGets.set(m[3]!, (blobGets.get(m[3]!) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
    if (!slow.has(m[3]!)) return void res.end(data);
    let offset = 0;
    const timer = setInterval(() => {
      if (res.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
        return;
      }
      res.write(data.subarray(offset, offset + CHUNK_BYTES));
      offset += CHUNK_BYTES;
      if (offset >= data.length) {
        clearInterval(timer);
        timers.delete(timer);
        res.end();
      }
    }, CHUNK_INTERVAL_MS);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    blobGets,
    close: () =>
      new Promise((resolve) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('pulls sharing a download and an unpack', () => {
  let registry: ThrottledRegistry;
  let daemon: TestDaemon;
  let image: BuiltImage;
  let plainTwin: BuiltImage;
  let bigContent: Buffer;

  before(async () => {
    // Incompressible, so the gzip layer is as big as its content: about 3 MiB, 0.7 s to serve.
    bigContent = randomBytes(3 << 20);
    const bigEntries = [{ type: 'file' as const, name: 'data/big.bin', content: bigContent }];
    const big = await buildLayer(bigEntries);
    const small = await buildLayer([{ type: 'file', name: 'etc/small.txt', content: 'on top\n' }]);
    image = buildImage([big, small]);
    // The same layers stored uncompressed: other blob digests, the same diffIDs and chain ids.
    const bigPlain = await buildLayer(bigEntries, 'none');
    plainTwin = buildImage([bigPlain, await buildLayer([{ type: 'file', name: 'etc/small.txt', content: 'on top\n' }], 'none')]);
    assert.equal(bigPlain.diffId, big.diffId);
    registry = await startThrottledRegistry({ shared: image, twin: plainTwin, lying: image }, new Set([big.digest, bigPlain.digest]), {
      lying: new Set([big.digest]),
    });
    daemon = await startDaemon();
  });

  after(async () => {
    await daemon?.stop();
    await daemon?.cleanup();
    await registry?.close();
  });

  it('completes the pull still waiting when the first puller gives up, downloading the layer once', async () => {
    const reference = `${registry.host}/shared:1`;
    // Two requests with different credentials are two pulls; the registry needs none, so both may use it.
    const first = daemon.cri.image.PullImage({ image: { image: reference }, auth: { username: 'first', password: 'x' } }, 250);
    await new Promise((r) => setTimeout(r, 50));
    const second = daemon.cri.image.PullImage({ image: { image: reference }, auth: { username: 'second', password: 'y' } });
    await assert.rejects(first, (err: { code?: number }) => err.code === GrpcStatus.DEADLINE_EXCEEDED);
    const pulled = await second;
    assert.equal(pulled.image_ref, image.config.digest);
    assert.equal(registry.blobGets.get(image.layers[0]!.digest), 1, 'the big layer was downloaded once, for both pulls');

    // The unpacked file is the layer's, byte for byte, and the store verifies.
    const status = await daemon.cri.image.ImageStatus({ image: { image: reference } });
    assert.equal(status.image?.id, image.config.digest);
    const snapshots = join(daemon.dirs.root, 'snapshots');
    const unpacked = findFile(snapshots, join('data', 'big.bin'));
    assert.ok(unpacked, 'the big file is in a snapshot');
    assert.ok(readFileSync(unpacked).equals(bigContent), 'its content is the layer\'s');
    const verify = await run(process.execPath, [BERTHCTL, '--address', daemon.dirs.socket, '--root', daemon.dirs.root, '--config', daemon.dirs.configPath, 'content', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const ingest = join(daemon.dirs.root, 'content', 'ingest');
    assert.deepEqual(existsSync(ingest) ? readdirSync(ingest) : [], [], 'no ingest left behind');
  });

  it('a pull of the same layers from other blobs completes when the pull it overlapped gives up', async () => {
    await daemon.cri.image.RemoveImage({ image: { image: `${registry.host}/shared:1` } });
    const first = daemon.cri.image.PullImage({ image: { image: `${registry.host}/shared:1` } }, 250);
    await new Promise((r) => setTimeout(r, 50));
    const second = daemon.cri.image.PullImage({ image: { image: `${registry.host}/twin:1` } }, 60_000);
    await assert.rejects(first, (err: { code?: number }) => err.code === GrpcStatus.DEADLINE_EXCEEDED);
    const pulled = await second;
    assert.equal(pulled.image_ref, plainTwin.config.digest);
    const unpacked = findFile(join(daemon.dirs.root, 'snapshots'), join('data', 'big.bin'));
    assert.ok(unpacked && readFileSync(unpacked).equals(bigContent), 'the layer is unpacked whole');
  });

  it('a pull whose shared download fails for the other pull (a lying repository) downloads the layer itself', async () => {
    for (const name of ['shared:1', 'twin:1']) {
      await daemon.cri.image.RemoveImage({ image: { image: `${registry.host}/${name}` } });
    }
    const bigDigest = image.layers[0]!.digest;
    const storedBlob = join(daemon.dirs.root, 'content', 'blobs', 'sha256', bigDigest.slice('sha256:'.length));
    await waitUntil(() => !existsSync(storedBlob), 'the big layer to be collected after RemoveImage');
    const getsBefore = registry.blobGets.get(bigDigest) ?? 0;

    const lyingPull = daemon.cri.image.PullImage({ image: { image: `${registry.host}/lying:1` } }, 60_000);
    await new Promise((r) => setTimeout(r, 50));
    // Another repository, the same blob digest: this pull joins the lying one's download and unpack.
    const honestPull = daemon.cri.image.PullImage({ image: { image: `${registry.host}/shared:1` } }, 60_000);
    await assert.rejects(lyingPull, (err: { details?: string }) => /digest mismatch/.test(err.details ?? '') && (err.details ?? '').includes(bigDigest));
    const pulled = await honestPull;
    assert.equal(pulled.image_ref, image.config.digest);
    assert.equal((registry.blobGets.get(bigDigest) ?? 0) - getsBefore, 2, 'the honest pull downloaded the layer again, from its own repository');
    const unpacked = findFile(join(daemon.dirs.root, 'snapshots'), join('data', 'big.bin'));
    assert.ok(unpacked && readFileSync(unpacked).equals(bigContent), 'the layer is unpacked whole');
    const verify = await run(process.execPath, [BERTHCTL, '--address', daemon.dirs.socket, '--root', daemon.dirs.root, '--config', daemon.dirs.configPath, 'content', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const ingest = join(daemon.dirs.root, 'content', 'ingest');
    assert.deepEqual(existsSync(ingest) ? readdirSync(ingest) : [], [], 'no ingest left behind');
  });
});

/** The path of `relative` inside any snapshot's fs directory under `snapshotsDir`. */
function findFile(snapshotsDir: string, relative: string): string | undefined {
  for (const id of readdirSync(snapshotsDir)) {
    const candidate = join(snapshotsDir, id, 'fs', relative);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
