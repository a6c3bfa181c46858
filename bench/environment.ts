/**
 * What both runtimes share in a bench run: a local registry holding the test
 * images, containerd-compatible mirror files pointing the upstream registries at
 * it, and a private base directory removed at the end.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectImages } from '../test/critest/images/catalog.js';
import { publishImages } from '../test/critest/images/publish.js';
import { assembleImage } from '../test/critest/images/image.js';
import { buildLayer } from '../test/critest/images/layer.js';
import { ImagePusher } from '../test/critest/images/push.js';
import { IMAGE_CACHE, MIRRORED } from '../test/support/cluster.js';
import { writeMirrorConfig } from '../test/support/mirror.js';
import { startRegistry, type TestRegistry } from '../test/support/registry.js';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
/**
 * The bench's own busybox: the host's static busybox with symlinked applets. (It
 * predates the critest image builder writing each hard link's header with its
 * file's mode: containerd applies a link header's mode to the target.)
 */
export const BUSYBOX_IMAGE = 'docker.io/berth-bench/busybox:1';
const BENCH_APPLETS = ['sh', 'sleep', 'true'];

async function publishBenchBusybox(registryHost: string): Promise<void> {
  const layer = await buildLayer([
    { type: 'hostfile', path: 'bin/busybox', source: '/bin/busybox', mode: 0o755 },
    ...BENCH_APPLETS.map((name) => ({ type: 'symlink' as const, path: `bin/${name}`, target: 'busybox' })),
  ]);
  const pusher = new ImagePusher(registryHost);
  try {
    await pusher.push('berth-bench/busybox', ['1'], assembleImage([layer], { cmd: ['sh'] }, ['host busybox']));
  } finally {
    pusher.close();
  }
}

export interface BenchEnvironment {
  base: string;
  registry: TestRegistry;
  /** certs.d directory with one hosts.toml per mirrored upstream. */
  certsDir: string;
  stop(): Promise<void>;
}

export async function startEnvironment(): Promise<BenchEnvironment> {
  const base = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  let registry: TestRegistry | undefined;
  try {
    registry = await startRegistry();
    await publishImages(selectImages(['pause']), { registry: registry.host, cacheDir: IMAGE_CACHE });
    await publishBenchBusybox(registry.host);
    const certsDir = join(base, 'certs.d');
    await mkdir(certsDir, { recursive: true });
    await writeMirrorConfig(certsDir, MIRRORED, [registry.url]);
    const started = registry;
    return {
      base,
      registry: started,
      certsDir,
      stop: async () => {
        await started.stop();
        await rm(base, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
    throw err;
  }
}
