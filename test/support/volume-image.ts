/**
 * A small image that declares volumes: static busybox, plus /data (owned by
 * 1000, mode 0750, with files and symlinks), /srv/real behind the symlink
 * /linked, and a file at /notadir.
 */
import { busyboxLayer } from './hostile-layers.js';
import { buildImage, layerFromTar, type BuiltImage } from './oci-image.js';
import { packTar } from './tar-pack.js';

const APPLETS = ['sh', 'cat', 'ls', 'stat', 'grep', 'touch', 'echo', 'sleep', 'readlink'];

async function volumeLayer() {
  const mtime = new Date(0);
  return layerFromTar(
    await packTar([
      { header: { name: 'data', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, mtime } },
      { header: { name: 'data/seed.txt', mode: 0o640, uid: 1000, gid: 1000, mtime }, content: 'from-image\n' },
      { header: { name: 'data/sub', type: 'directory', mode: 0o755, mtime } },
      { header: { name: 'data/sub/seed-link', type: 'symlink', linkname: '../seed.txt', mtime } },
      // For image_sub_path: a file behind an absolute symlink, and two links a host walk would follow out.
      { header: { name: 'data/seed-link-abs', type: 'symlink', linkname: '/data/seed.txt', mtime } },
      { header: { name: 'data/sub/up', type: 'symlink', linkname: '../../../../../../etc', mtime } },
      { header: { name: 'data/host-file', type: 'symlink', linkname: '/etc/hostname', mtime } },
      { header: { name: 'srv', type: 'directory', mode: 0o755, mtime } },
      { header: { name: 'srv/real', type: 'directory', mode: 0o755, mtime } },
      { header: { name: 'srv/real/inside.txt', mode: 0o644, mtime }, content: 'behind-a-symlink\n' },
      { header: { name: 'linked', type: 'symlink', linkname: '/srv/real', mtime } },
      { header: { name: 'notadir', mode: 0o644, mtime }, content: 'a file\n' },
    ]),
  );
}

/** The image with `volumes` declared in its config; it sleeps by default. */
export async function volumeImage(volumes: string[]): Promise<BuiltImage> {
  return buildImage([await busyboxLayer(APPLETS), await volumeLayer()], { cmd: ['sleep', '3600'], volumes });
}
