/**
 * Layer tarballs a hostile image author could push: any entry name, link
 * target, device node or PAX record, written as given (tar-stream keeps
 * names verbatim). Plus a busybox base layer so a container can run on top.
 */
import { readFileSync } from 'node:fs';
import tar from 'tar-stream';
import { layerFromTar, type BuiltLayer } from './oci-image.js';
import { BUSYBOX_PATH } from './rootfs.js';

export type RawEntry =
  | { type: 'file'; name: string; content?: string | Buffer; mode?: number; pax?: Record<string, string> }
  | { type: 'directory'; name: string }
  | { type: 'symlink' | 'link'; name: string; linkname: string }
  | { type: 'character-device' | 'block-device'; name: string; major: number; minor: number; mode?: number };

export async function rawTar(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const mtime = new Date(0);
  for (const e of entries) {
    switch (e.type) {
      case 'file':
        pack.entry({ name: e.name, mode: e.mode ?? 0o644, mtime, ...(e.pax ? { pax: e.pax } : {}) }, e.content ?? '');
        break;
      case 'directory':
        pack.entry({ name: e.name, type: 'directory', mode: 0o755, mtime });
        break;
      case 'symlink':
      case 'link':
        pack.entry({ name: e.name, type: e.type, linkname: e.linkname, mtime });
        break;
      default:
        pack.entry({ name: e.name, type: e.type, devmajor: e.major, devminor: e.minor, mode: e.mode ?? 0o666, mtime });
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function rawLayer(entries: RawEntry[]): Promise<BuiltLayer> {
  return layerFromTar(await rawTar(entries), 'gzip');
}

/** Static busybox with the applets the tests call, as /bin/<applet> symlinks. */
export async function busyboxLayer(applets: readonly string[] = ['sh', 'cat', 'head', 'ls', 'sleep', 'echo', 'readlink']): Promise<BuiltLayer> {
  return rawLayer([
    { type: 'directory', name: 'bin' },
    { type: 'directory', name: 'tmp' },
    { type: 'file', name: 'bin/busybox', content: readFileSync(BUSYBOX_PATH), mode: 0o755 },
    ...applets.map((a): RawEntry => ({ type: 'symlink', name: `bin/${a}`, linkname: 'busybox' })),
  ]);
}
