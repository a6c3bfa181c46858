import { randomUUID } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { createNetns, removeNetns } from '../cni/netns.js';
import { AlreadyExistsError, InvalidArgumentError } from '../core/errors.js';
import type { SandboxRecord } from '../core/metadata/records.js';
import { createPodFiles, removePodFiles } from '../core/sandbox/pod-files.js';
import { buildSandboxSpec, refuseNul, resolveUser, validateCgroupParent, type PodFiles } from '../core/runtime/spec/index.js';
import { localhostSeccompProfileFor } from '../core/runtime/seccomp-profile-file.js';
import type { Mount } from '../core/snapshots/snapshotter.js';
import { chainIds } from '../core/images/chain-id.js';
import { allSettledOrThrow } from '../core/util/concurrency.js';
import type { ImageConfig } from '../core/images/manifest.js';
import type { Seccomp } from '../core/runtime/spec/oci-types.js';
import type { PodSandboxConfig__Output } from '../gen/cri/runtime/v1/PodSandboxConfig.js';
import type { RunPodSandboxRequest__Output } from '../gen/cri/runtime/v1/RunPodSandboxRequest.js';
import type { RunPodSandboxResponse } from '../gen/cri/runtime/v1/RunPodSandboxResponse.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { newId, nowNanos } from './ids.js';
import { ensureImage } from './image-ensure.js';
import type { ImageUserFiles } from './image-files.js';

type UndoSteps = (() => Promise<void> | void)[];

/** The name a sandbox reserves: two RunPodSandbox calls with the same metadata conflict. */
export function sandboxName(config: PodSandboxConfig__Output): string {
  const m = config.metadata!;
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}

function validate(config: PodSandboxConfig__Output | null): asserts config is PodSandboxConfig__Output {
  if (!config) throw new InvalidArgumentError('config is required');
  const m = config.metadata;
  if (!m || !m.name || !m.namespace || !m.uid) {
    throw new InvalidArgumentError('config.metadata needs name, namespace and uid');
  }
  for (const [key, value] of Object.entries({ name: m.name, namespace: m.namespace, uid: m.uid })) {
    if (value.includes('/') || value.includes('\0') || value.length > 253) {
      throw new InvalidArgumentError(`config.metadata.${key} "${value.slice(0, 64)}" is not a valid name`);
    }
  }
  // The kernel's HOST_NAME_MAX; runc would fail half-way through creating the pause container.
  if (Buffer.byteLength(config.hostname) > 64) throw new InvalidArgumentError(`hostname "${config.hostname.slice(0, 64)}…" is longer than 64 bytes`);
  refuseNul(config.hostname, 'hostname');
  if (config.log_directory !== '') {
    refuseNul(config.log_directory, 'log_directory');
    if (!isAbsolute(config.log_directory)) throw new InvalidArgumentError(`log_directory "${config.log_directory.slice(0, 200)}" must be an absolute path`);
  }
  for (const p of config.port_mappings) {
    if (!PROTOCOLS.has(p.protocol)) throw new InvalidArgumentError(`port mapping protocol ${String(p.protocol)} is not TCP, UDP or SCTP`);
    if (p.container_port < 1 || p.container_port > 65535) throw new InvalidArgumentError(`port mapping container_port ${p.container_port} must be 1-65535`);
    if (p.host_port < 0 || p.host_port > 65535) throw new InvalidArgumentError(`port mapping host_port ${p.host_port} must be 0-65535`);
  }
  // Each entry becomes one line of the pod's resolv.conf: no line breaks or spaces hidden inside.
  const dns = config.dns_config;
  for (const entry of [...(dns?.servers ?? []), ...(dns?.searches ?? []), ...(dns?.options ?? [])]) {
    if (entry === '' || /[\s\0]/.test(entry)) throw new InvalidArgumentError(`dns_config entry ${JSON.stringify(entry.slice(0, 200))} must be one word`);
  }
  validateCgroupParent(config.linux?.cgroup_parent ?? '');
}

const PROTOCOLS = new Set<unknown>(['TCP', 'UDP', 'SCTP']);

/**
 * RunPodSandbox: reserve the name, then at once pin a network namespace and
 * write the pod's files and prepare the pause rootfs; once the namespace
 * exists, run the CNI chain in it while the pause container is created and
 * started under conmon. Each step is undone if any fails.
 */
export async function runPodSandbox(ctx: CriContext, req: RunPodSandboxRequest__Output): Promise<RunPodSandboxResponse> {
  const config = req.config;
  validate(config);
  const rt = ctx.runtime;
  const handler = req.runtime_handler || ctx.config.default_runtime;
  rt.tasks.runtime(handler);

  const id = newId();
  const name = sandboxName(config);
  const holder = rt.sandboxes.all().find((s) => s.name === name);
  if (holder) throw new AlreadyExistsError(`pod sandbox name "${name}" is reserved by ${holder.id}`);
  const ns = config.linux?.security_context?.namespace_options ?? null;
  const hostNetwork = ns?.network === 'NODE';
  const hostIpc = ns?.ipc === 'NODE';
  const localhostSeccompProfile = await localhostSeccompProfileFor(config.linux?.security_context ?? null);

  const record: SandboxRecord = {
    id,
    name,
    config,
    runtimeHandler: handler,
    state: 'notready',
    netnsPath: '',
    ips: [],
    pid: 0,
    imageId: '',
    createdAt: nowNanos(),
    extra: {},
  };
  try {
    rt.sandboxes.insert(record);
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new AlreadyExistsError(`pod sandbox name "${name}" is reserved by another sandbox being created`);
    }
    throw err;
  }

  const undo: UndoSteps = [() => rt.sandboxes.delete(id)];
  try {
    return await rt.locks.run(id, async () => {
      const image = await ensureImage(ctx, ctx.config.sandbox_image);
      const imageConfig = await ctx.images.config(image.id);

      let netns: Promise<string> = Promise.resolve('');
      if (!hostNetwork) {
        // Recorded before it exists: if berthd dies from here on, StopPodSandbox still finds the
        // namespace and the CNI result cache to tear down.
        const netnsName = `cni-${randomUUID()}`;
        const path = join(rt.netnsDir, netnsName);
        rt.sandboxes.update(id, (r) => ({ ...r, netnsPath: path }));
        netns = createNetns(netnsName, rt.netnsDir).then(() => {
          undo.push(() => removeNetns(path));
          return path;
        });
      }
      // The pause process only holds the namespaces: it can start while CNI wires the pinned netns.
      const [netnsPath, ips, pid] = await allSettledOrThrow<[string, string[], number]>([
        netns,
        hostNetwork ? Promise.resolve([]) : netns.then((path) => setUpPodNetwork(ctx, id, config, path, undo)),
        startPause(ctx, { id, handler, config, imageConfig, netns, hostNetwork, hostIpc, localhostSeccompProfile }, undo),
      ]);

      rt.sandboxes.update(id, (r) => ({ ...r, state: 'ready', netnsPath, ips, pid, imageId: image.id }));
      ctx.logger.info('pod sandbox ready', { id, name, ips, pid });
      publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_CREATED_EVENT');
      publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_STARTED_EVENT');
      return { pod_sandbox_id: id };
    });
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (cleanupErr) {
        ctx.logger.warn('cleanup after a failed RunPodSandbox', { id, error: (cleanupErr as Error).message });
      }
    }
    throw err;
  }
}

/** Runs the CNI chain in the pod's pinned netns; returns the pod IPs. */
async function setUpPodNetwork(ctx: CriContext, id: string, config: PodSandboxConfig__Output, netnsPath: string, undo: UndoSteps): Promise<string[]> {
  const rt = ctx.runtime;
  const network = await rt.cni.setUpPod({
    podId: id,
    netnsPath,
    name: config.metadata!.name,
    namespace: config.metadata!.namespace,
    uid: config.metadata!.uid,
    portMappings: config.port_mappings.map((p) => ({
      hostPort: p.host_port,
      containerPort: p.container_port,
      protocol: p.protocol.toLowerCase(),
      hostIP: p.host_ip,
    })),
    ...(config.dns_config ? { dns: { servers: config.dns_config.servers, searches: config.dns_config.searches, options: config.dns_config.options } } : {}),
  });
  undo.push(() => rt.cni.tearDownPod({ podId: id, netnsPath }));
  return network.ips.map((ip) => ip.address);
}

interface PauseOptions {
  id: string;
  handler: string;
  config: PodSandboxConfig__Output;
  imageConfig: ImageConfig;
  /** The pinned netns path ('' for host network), still being created. */
  netns: Promise<string>;
  hostNetwork: boolean;
  hostIpc: boolean;
  localhostSeccompProfile: Seccomp | undefined;
}

/**
 * Writes the pod's files and prepares the pause rootfs (at once), then, with
 * the network namespace in place, creates and starts the pause container;
 * returns its pid.
 */
async function startPause(ctx: CriContext, o: PauseOptions, undo: UndoSteps): Promise<number> {
  const rt = ctx.runtime;
  const { id, config, imageConfig } = o;
  const chain = chainIds(imageConfig.rootfs.diff_ids);
  const [files, mounts] = await allSettledOrThrow<[PodFiles, Mount[]]>([
    createPodFiles({
      dir: rt.podDir(id),
      runDir: rt.podRunDir(id),
      hostname: config.hostname,
      hostNetwork: o.hostNetwork,
      hostIpc: o.hostIpc,
      ...(config.dns_config ? { dns: config.dns_config } : {}),
    }).finally(() => undo.push(() => removePodFiles(rt.podDir(id), rt.podRunDir(id)))),
    rt.snapshots.prepare(id, chain[chain.length - 1], { 'berth.io/sandbox': id }).then((prepared) => {
      undo.push(() => rt.snapshots.remove(id));
      return prepared;
    }),
  ]);
  const sc = config.linux?.security_context ?? null;
  const [{ passwd, group }, netnsPath] = await allSettledOrThrow<[ImageUserFiles, string]>([
    rt.userFiles.get(chain[chain.length - 1], rt.snapshots.layerDirs(id)),
    o.netns,
  ]);
  const user = resolveUser({
    criUser: {
      ...(sc?.run_as_user ? { uid: Number(sc.run_as_user.value) } : {}),
      ...(sc?.run_as_group ? { gid: Number(sc.run_as_group.value) } : {}),
    },
    imageUser: imageConfig.config.User ?? '',
    passwd,
    group,
    supplementalGroups: (sc?.supplemental_groups ?? []).map(Number),
    policy: 'Merge',
  });
  const spec = buildSandboxSpec({
    id,
    config,
    imageConfig,
    imageName: ctx.config.sandbox_image,
    user,
    rootfsPath: 'rootfs',
    ...(netnsPath ? { netnsPath } : {}),
    ...(files.shmPath ? { shmPath: files.shmPath } : {}),
    host: rt.host,
    ...(o.localhostSeccompProfile ? { localhostSeccompProfile: o.localhostSeccompProfile } : {}),
  });
  const { pid } = await rt.tasks.create({
    id,
    handler: o.handler,
    spec: spec as unknown as Record<string, unknown>,
    rootfs: mounts,
    logPath: join(rt.podRunDir(id), 'pause.log'),
  });
  undo.push(() => rt.tasks.delete(id, o.handler));
  await rt.tasks.start(id, o.handler);
  return pid;
}
