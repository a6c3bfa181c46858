import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishImages } from '../critest/images/publish.js';
import { selectImages } from '../critest/images/catalog.js';
import { startDaemon, type TestDaemon } from './daemon.js';
import { run } from './exec.js';
import { writeMirrorConfig } from './mirror.js';
import { startRegistry, type TestRegistry } from './registry.js';

/** Upstream registries the tests' images come from; all are mirrored to the local registry. */
export const MIRRORED = ['docker.io', 'registry.k8s.io', 'gcr.io', 'k8s.gcr.io'];
export const BUSYBOX = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
export const IMAGE_CACHE = join(tmpdir(), 'berth-test-image-cache');

export interface TestNode {
  daemon: TestDaemon;
  registry: TestRegistry;
  /** The pod subnet of this node's bridge (a /24 of 10.234.0.0/16, chosen per node). */
  subnet: string;
  bridge: string;
  logDir: string;
  stop(): Promise<void>;
}

export interface NodeOptions {
  /** Catalog image names to publish (default: pause and busybox). */
  images?: string[];
  /** Third octet of 10.234.X.0/24 and suffix of the bridge name; distinct per test file. */
  netIndex: number;
  extraToml?: string;
}

/**
 * A node for integration tests: a local registry holding the test images,
 * mirror config for the upstream registries, a CNI bridge network of the
 * test's own, and berthd on private directories.
 */
export async function startNode(options: NodeOptions): Promise<TestNode> {
  const registry = await startRegistry();
  await publishImages(selectImages(options.images ?? ['pause', 'busybox']), { registry: registry.host, cacheDir: IMAGE_CACHE });
  const base = await mkdtemp(join(tmpdir(), 'berth-node-'));
  const certs = join(base, 'certs.d');
  const netd = join(base, 'net.d');
  const logDir = join(base, 'logs');
  await mkdir(netd, { recursive: true });
  await mkdir(logDir, { recursive: true });
  await writeMirrorConfig(certs, MIRRORED, [registry.url]);
  const subnet = `10.234.${options.netIndex}.0/24`;
  const bridge = `berthit${options.netIndex}`;
  await writeFile(
    join(netd, '10-berth-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `berth-test-${options.netIndex}`,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: join(base, 'ipam') },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'loopback' },
      ],
    }),
  );
  const daemon = await startDaemon({
    configToml: `[registry]\nconfig_path = "${certs}"\n[cni]\nconf_dir = "${netd}"\n${options.extraToml ?? ''}`,
  });
  const node: TestNode = {
    daemon,
    registry,
    subnet,
    bridge,
    logDir,
    stop: async () => {
      // The test may have restarted the daemon: stop the current one.
      await removeAllPods(node.daemon).catch(() => undefined);
      await node.daemon.stop();
      await node.daemon.cleanup();
      await registry.stop();
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
  return node;
}

export async function removeAllPods(daemon: TestDaemon): Promise<void> {
  const { items } = await daemon.cri.runtime.ListPodSandbox({});
  for (const pod of items) {
    await daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id: pod.id });
    await daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: pod.id });
  }
}

let podCounter = 0;

/** A minimal PodSandboxConfig with a unique name. */
export function podConfig(node: TestNode, overrides: Record<string, unknown> = {}) {
  const n = ++podCounter;
  const name = `pod-${process.pid}-${n}`;
  return {
    metadata: { name, namespace: 'berth-test', uid: `uid-${process.pid}-${n}`, attempt: 0 },
    hostname: name,
    log_directory: join(node.logDir, name),
    labels: { app: 'berth-test', n: String(n) },
    annotations: { 'berth.test/pod': name },
    linux: {},
    ...overrides,
  };
}

/**
 * Creates a container named `name` in the pod (busybox unless `config` names
 * another image; its log at `<name>.log`), starts it unless `start` is false,
 * and returns its id.
 */
export async function runInPod(
  daemon: TestDaemon,
  podId: string,
  pod: ReturnType<typeof podConfig>,
  name: string,
  config: Record<string, unknown> = {},
  start = true,
): Promise<string> {
  const { container_id } = await daemon.cri.runtime.CreateContainer({
    pod_sandbox_id: podId,
    sandbox_config: pod,
    config: { metadata: { name }, image: { image: BUSYBOX }, log_path: `${name}.log`, ...config },
  });
  if (start) await daemon.cri.runtime.StartContainer({ container_id });
  return container_id;
}
