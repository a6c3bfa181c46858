/**
 * Every image critest pulls (see /work/shared/CRITEST-IMAGES.md), where it lives in
 * the local mirror, and how to build it. Layers are shared where images share
 * content (the busybox base, the web server), so a registry stores them once.
 */
import { parseReference } from '../../../src/core/distribution/reference.js';
import { BASE_GROUP, BASE_PASSWD, busyboxBaseEntries, lines } from './busybox.js';
import { compileStatic } from './compile.js';
import { assembleImage, type OciImage, type RunSettings } from './image.js';
import { buildLayer, type BuiltLayer, type LayerEntry } from './layer.js';

export const CATATONIT_PATH = '/usr/bin/catatonit';
export const WELCOME_PAGE = '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1></body></html>\n';

export interface CatalogImage {
  /** Short name, for selection and reports. */
  name: string;
  /** The upstream references critest pulls; all name this one image. */
  references: string[];
  build: (ctx: BuildContext) => Promise<OciImage>;
}

/** Where an upstream reference is served by the mirror: the host is dropped, docker.io names get `library/`. */
export interface MirrorLocation {
  repoPath: string;
  tag: string;
}

export function mirrorLocation(reference: string): MirrorLocation {
  const ref = parseReference(reference);
  if (ref.digest !== undefined) throw new Error(`${reference}: a digest reference cannot be built, only tags can be pushed`);
  return { repoPath: ref.path, tag: ref.tag ?? 'latest' };
}

/** Builds shared pieces once per run. */
export class BuildContext {
  private base: Promise<BuiltLayer> | undefined;
  private readonly webLayers = new Map<string, Promise<BuiltLayer>>();

  constructor(readonly cacheDir: string) {}

  /** The busybox base layer. */
  busyboxLayer(): Promise<BuiltLayer> {
    this.base ??= busyboxBaseEntries(this.cacheDir).then(buildLayer);
    return this.base;
  }

  /** The busybox base plus one layer of `entries` (none: the base alone). */
  async onBusybox(settings: RunSettings, entries: readonly LayerEntry[] = [], how = 'add files'): Promise<OciImage> {
    const base = await this.busyboxLayer();
    const withSh: RunSettings = { cmd: ['sh'], ...settings };
    if (entries.length === 0) return assembleImage([base], withSh, ['busybox base']);
    return assembleImage([base, await buildLayer(entries)], withSh, ['busybox base', how]);
  }

  /** The web-server layer: the static program at `binaryPath` and the welcome page. */
  webServerLayer(binaryPath: string): Promise<BuiltLayer> {
    let layer = this.webLayers.get(binaryPath);
    if (!layer) {
      layer = compileStatic('webserver', this.cacheDir).then((binary) =>
        buildLayer([
          { type: 'hostfile', path: binaryPath, source: binary, mode: 0o755 },
          { type: 'file', path: 'var/www/index.html', content: WELCOME_PAGE },
        ]),
      );
      this.webLayers.set(binaryPath, layer);
    }
    return layer;
  }
}

const STAGING = 'gcr.io/k8s-staging-cri-tools';
const E2E = 'registry.k8s.io/e2e-test-images';
const NGINX_BINARY = '/usr/sbin/nginx';
const NGINX_TITLE = 'nginx: master process nginx -g daemon off;';

function webServer(ctx: BuildContext, binary: string, port: number, args: string[]): Promise<OciImage> {
  return ctx.busyboxLayer().then(async (base) =>
    assembleImage(
      [base, await ctx.webServerLayer(binary)],
      { entrypoint: [binary], cmd: ['--port', String(port), ...args], exposedPorts: [`${port}/tcp`] },
      ['busybox base', `web server ${binary}`],
    ),
  );
}

/** A busybox image with one marker file, so each gets its own digest. */
function marked(name: string): (ctx: BuildContext) => Promise<OciImage> {
  return (ctx) => ctx.onBusybox({}, [{ type: 'file', path: name, content: `${name}\n` }], `add /${name}`);
}

/** The pause image: catatonit as the entrypoint; the version label keeps versions apart. */
function pause(version: string): () => Promise<OciImage> {
  return async () => {
    const layer = await buildLayer([{ type: 'hostfile', path: 'catatonit', source: CATATONIT_PATH, mode: 0o755 }]);
    return assembleImage([layer], { entrypoint: ['/catatonit', '-P'], labels: { 'org.opencontainers.image.version': version } }, ['add static catatonit']);
  };
}

function withUser(user: string): (ctx: BuildContext) => Promise<OciImage> {
  return (ctx) => ctx.onBusybox({ user });
}

export const CRITEST_IMAGES: readonly CatalogImage[] = [
  {
    name: 'busybox',
    references: [`${E2E}/busybox:1.29-2`],
    build: (ctx) => ctx.onBusybox({}),
  },
  {
    name: 'nginx',
    references: [`${E2E}/nginx:1.14-2`],
    build: (ctx) => webServer(ctx, NGINX_BINARY, 80, ['--pidfile', '/var/run/nginx.pid', '--title', NGINX_TITLE]),
  },
  {
    name: 'httpd',
    references: [`${E2E}/httpd:2.4.39-4`],
    build: (ctx) =>
      webServer(ctx, '/usr/local/apache2/bin/httpd', 80, [
        '--pidfile',
        '/var/run/httpd.pid',
        '--title',
        'httpd -D FOREGROUND',
        '--banner',
        'httpd -D FOREGROUND',
      ]),
  },
  {
    name: 'hostnet-nginx',
    references: [`${STAGING}/hostnet-nginx-amd64:latest`],
    build: (ctx) => webServer(ctx, NGINX_BINARY, 12003, ['--pidfile', '/var/run/nginx.pid', '--title', NGINX_TITLE]),
  },
  {
    name: 'nonewprivs',
    references: [`${E2E}/nonewprivs:1.3`],
    build: async (ctx) => {
      const binary = await compileStatic('nonewprivs', ctx.cacheDir);
      return ctx.onBusybox(
        { user: '1000', entrypoint: ['/usr/local/bin/nnp'], cmd: [] },
        [{ type: 'hostfile', path: 'usr/local/bin/nnp', source: binary, mode: 0o4755, uid: 0, gid: 0 }],
        'add setuid /usr/local/bin/nnp',
      );
    },
  },
  // Two versions, two images (as upstream): 3.10 is the sandbox image, and critest's
  // "remove all tags from other registries" expects pause:3.9 to carry only its own two tags.
  { name: 'pause', references: ['registry.k8s.io/pause:3.10'], build: pause('3.10') },
  { name: 'pause-3.9', references: ['registry.k8s.io/pause:3.9', 'k8s.gcr.io/pause:3.9'], build: pause('3.9') },
  { name: 'test-image-latest', references: [`${STAGING}/test-image-latest:latest`], build: marked('test-image-latest') },
  { name: 'test-image-tag-test', references: [`${STAGING}/test-image-tag:test`], build: marked('test-image-tag-test') },
  { name: 'test-image-tag-all', references: [`${STAGING}/test-image-tag:all`], build: marked('test-image-tag-all') },
  { name: 'test-image-1', references: [`${STAGING}/test-image-1:latest`], build: marked('test-image-1') },
  { name: 'test-image-2', references: [`${STAGING}/test-image-2:latest`], build: marked('test-image-2') },
  { name: 'test-image-3', references: [`${STAGING}/test-image-3:latest`], build: marked('test-image-3') },
  {
    name: 'test-image-tags',
    references: [`${STAGING}/test-image-tags:1`, `${STAGING}/test-image-tags:2`, `${STAGING}/test-image-tags:3`],
    build: marked('test-image-tags'),
  },
  { name: 'test-image-user-uid', references: [`${STAGING}/test-image-user-uid:latest`], build: withUser('1002') },
  { name: 'test-image-user-username', references: [`${STAGING}/test-image-user-username:latest`], build: withUser('www-data') },
  { name: 'test-image-user-uid-group', references: [`${STAGING}/test-image-user-uid-group:latest`], build: withUser('1003:1003') },
  {
    name: 'test-image-user-username-group',
    references: [`${STAGING}/test-image-user-username-group:latest`],
    build: withUser('www-data:www-data'),
  },
  {
    name: 'test-image-predefined-group',
    references: [`${STAGING}/test-image-predefined-group:latest`],
    build: (ctx) =>
      ctx.onBusybox(
        { user: '1000' },
        [
          { type: 'file', path: 'etc/passwd', content: lines([...BASE_PASSWD, 'default-user:x:1000:1000::/home/default-user:/bin/sh']) },
          {
            type: 'file',
            path: 'etc/group',
            content: lines([...BASE_GROUP, 'default-user:x:1000:', 'group-defined-in-image:x:50000:default-user']),
          },
          { type: 'dir', path: 'home/default-user', mode: 0o755, uid: 1000, gid: 1000 },
        ],
        'add default-user (1000) in group-defined-in-image (50000)',
      ),
  },
];

/** The catalog entries called `names` (all when empty); unknown names are an error. */
export function selectImages(names: readonly string[]): CatalogImage[] {
  if (names.length === 0) return [...CRITEST_IMAGES];
  const known = new Map(CRITEST_IMAGES.map((i) => [i.name, i]));
  return names.map((n) => {
    const image = known.get(n);
    if (!image) throw new Error(`unknown image ${JSON.stringify(n)}; known: ${[...known.keys()].join(', ')}`);
    return image;
  });
}
