/**
 * Layer tarballs a hostile image author could push: any entry name, link
 * target, device node or PAX record, written as given (tar-stream keeps
 * names verbatim). Plus a busybox base layer so a container can run on top.
 */
import { readFileSync } from 'node:fs';
import { layerFromTar, type BuiltLayer } from './oci-image.js';
import { BUSYBOX_PATH } from './rootfs.js';
import { packTar, type TarMember } from './tar-pack.js';

export type RawEntry =
  | { type: 'file'; name: string; content?: string | Buffer; mode?: number; pax?: Record<string, string> }
  | { type: 'directory'; name: string }
  | { type: 'symlink' | 'link'; name: string; linkname: string }
  | { type: 'character-device' | 'block-device'; name: string; major: number; minor: number; mode?: number };

export function rawTar(entries: RawEntry[]): Promise<Buffer> {
  const mtime = new Date(0);
  return packTar(
    entries.map((e): TarMember => {
      switch (e.type) {
        case 'file':
          return { header: { name: e.name, mode: e.mode ?? 0o644, mtime, ...(e.pax ? { pax: e.pax } : {}) }, content: e.content ?? '' };
        case 'directory':
          return { header: { name: e.name, type: 'directory', mode: 0o755, mtime } };
        case 'symlink':
        case 'link':
          return { header: { name: e.name, type: e.type, linkname: e.linkname, mtime } };
        default:
          return { header: { name: e.name, type: e.type, devmajor: e.major, devminor: e.minor, mode: e.mode ?? 0o666, mtime } };
      }
    }),
  );
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
