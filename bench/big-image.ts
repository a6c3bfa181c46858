/**
 * A large multi-layer image for the pull figure: each layer holds files of
 * AES-CTR keystream (incompressible, and the same bytes on every run, so the same
 * digests). Built in memory and pushed to the bench registry with berth's client.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { assembleImage, type OciImage } from '../test/critest/images/image.js';
import { LAYER_MEDIA_TYPE, type BuiltLayer } from '../test/critest/images/layer.js';
import { sha256 } from '../test/support/tar-pack.js';
import { ImagePusher } from '../test/critest/images/push.js';

export const BIG_IMAGE_REPO = 'berth-bench/big';
export const FILES_PER_LAYER = 20;

/** `size` deterministic, incompressible bytes derived from `seed`. */
export function pseudoRandomBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

async function tarOf(files: { name: string; content: Buffer }[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  const dirs = new Set(files.map((f) => f.name.split('/').slice(0, -1).join('/')));
  for (const dir of [...dirs].sort()) archive.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
  for (const f of files) archive.entry({ name: f.name, size: f.content.length, mode: 0o644, mtime: new Date(0) }, f.content);
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function buildBigLayer(index: number, mib: number): Promise<BuiltLayer> {
  const fileSize = Math.floor((mib * 2 ** 20) / FILES_PER_LAYER);
  const files = Array.from({ length: FILES_PER_LAYER }, (_, i) => ({
    name: `data/layer${index}/blob${String(i).padStart(2, '0')}.bin`,
    content: pseudoRandomBytes(`berth-bench layer ${index} file ${i}`, fileSize),
  }));
  const tar = await tarOf(files);
  // Level 1: the data cannot shrink anyway, and the bench should not wait on the build.
  const compressed = gzipSync(tar, { level: 1 });
  return { mediaType: LAYER_MEDIA_TYPE, digest: sha256(compressed), size: compressed.length, diffId: sha256(tar), compressed };
}

export interface BigImage {
  reference: string;
  image: OciImage;
  /** Sum of layer sizes as stored in the registry. */
  compressedBytes: number;
  /** Bytes of file content written to disk on unpack. */
  contentBytes: number;
}

export async function publishBigImage(registryHost: string, layers: number, layerMiB: number): Promise<BigImage> {
  const built: BuiltLayer[] = [];
  for (let i = 0; i < layers; i++) built.push(await buildBigLayer(i, layerMiB));
  const image = assembleImage(built, { cmd: ['/bin/sh'] });
  const tag = `${layers}x${layerMiB}m`;
  const pusher = new ImagePusher(registryHost);
  try {
    await pusher.push(BIG_IMAGE_REPO, [tag], image);
  } finally {
    pusher.close();
  }
  const fileSize = Math.floor((layerMiB * 2 ** 20) / FILES_PER_LAYER);
  return {
    // docker.io is mirrored to the local registry; the path maps to the same repository.
    reference: `docker.io/${BIG_IMAGE_REPO}:${tag}`,
    image,
    compressedBytes: built.reduce((a, l) => a + l.size, 0),
    contentBytes: fileSize * FILES_PER_LAYER * layers,
  };
}
