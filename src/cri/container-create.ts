import { rm } from 'node:fs/promises';
import { join, isAbsolute, posix } from 'node:path';
import { chainIds } from '../core/images/chain-id.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { ContainerRecord } from '../core/metadata/records.js';
import { podFilesPaths } from '../core/sandbox/pod-files.js';
import { allHostDevices, hostDeviceAt } from '../core/runtime/host-devices.js';
import { checkHostPropagation } from '../core/runtime/mount-propagation.js';
import { localhostSeccompProfileFor } from '../core/runtime/seccomp-profile-file.js';
import { buildContainerSpec, resolveUser, validateMount, validateProcessConfig, validateResources, type HostDevice } from '../core/runtime/spec/index.js';
import type { ContainerConfig__Output } from '../gen/cri/runtime/v1/ContainerConfig.js';
import type { CreateContainerRequest__Output } from '../gen/cri/runtime/v1/CreateContainerRequest.js';
import type { CreateContainerResponse } from '../gen/cri/runtime/v1/CreateContainerResponse.js';
import type { CriContext } from './context.js';
import { publishContainerEvent } from './event-publisher.js';
import { imageMountViewKeys, isImageMount, mountImages, releaseImageMounts } from './image-mounts.js';
import { imageVolumeBinds, populateImageVolumes } from './image-volumes.js';
import { lookupById, newId, nowNanos } from './ids.js';
import { liveSandboxState } from './sandbox-state.js';
import { sandboxConfig } from './sandbox-view.js';

function validate(config: ContainerConfig__Output | null): asserts config is ContainerConfig__Output {
  if (!config) throw new InvalidArgumentError('config is required');
  if (!config.metadata?.name) throw new InvalidArgumentError('config.metadata.name is required');
  if (/[/\0]/.test(config.metadata.name)) throw new InvalidArgumentError(`config.metadata.name "${config.metadata.name}" is not a valid name`);
  if (!config.image?.image) throw new InvalidArgumentError('config.image.image is required');
  for (const m of config.mounts) {
    if (!isAbsolute(m.container_path)) throw new InvalidArgumentError(`mount container_path "${m.container_path}" must be absolute`);
    validateMount(m);
  }
  validateLogPath(config.log_path);
  validateProcessConfig(config);
  validateResources(config.linux?.resources);
}

/** log_path is relative to the pod's log directory and must stay inside it (conmon creates the file as root). */
function validateLogPath(logPath: string): void {
  if (logPath === '') return;
  const normalized = posix.normalize(logPath);
  if (logPath.includes('\0') || posix.isAbsolute(logPath) || normalized === '..' || normalized.startsWith('../')) {
    throw new InvalidArgumentError(`log_path "${logPath.slice(0, 200)}" must be a relative path inside the pod's log directory`);
  }
}

/** Stat of each device the config asks for; a path that is no device is refused. */
async function requestedDevices(config: ContainerConfig__Output): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  for (const d of config.devices) {
    if (!d.host_path) throw new InvalidArgumentError('device host_path is required');
    const device = await hostDeviceAt(d.host_path);
    if (!device) throw new InvalidArgumentError(`device ${d.host_path} is not a device on this host`);
    out.push(device);
  }
  return out;
}

/**
 * CreateContainer: reserve the name in the pod, prepare a writable overlay
 * snapshot over the image, build the OCI spec from image + CRI config and
 * create the container under conmon (not started).
 */
export async function createContainer(ctx: CriContext, req: CreateContainerRequest__Output): Promise<CreateContainerResponse> {
  const rt = ctx.runtime;
  const config = req.config;
  validate(config);
  const sandbox = lookupById(rt.sandboxes, req.pod_sandbox_id, 'pod sandbox');
  if (liveSandboxState(rt, sandbox) !== 'SANDBOX_READY') {
    throw new FailedPreconditionError(`pod sandbox ${sandbox.id} is not ready`);
  }
  const podConfig = req.sandbox_config ?? sandboxConfig(sandbox);
  const pm = sandboxConfig(sandbox).metadata!;
  const name = `${config.metadata!.name}_${pm.name}_${pm.namespace}_${pm.uid}_${config.metadata!.attempt}`;
  const holder = rt.containers.all().find((c) => c.name === name);
  if (holder) throw new AlreadyExistsError(`container name "${name}" is reserved by ${holder.id}`);

  const image = ctx.images.find(config.image!.image);
  if (!image) throw new NotFoundError(`image "${config.image!.image}" not found; pull it first`);
  const imageConfig = await ctx.images.config(image.id);
  const sc = config.linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  const localhostSeccompProfile = await localhostSeccompProfileFor(sc);
  await checkHostPropagation(config.mounts.filter((m) => !isImageMount(m)));
  if (config.mounts.some((m) => m.recursive_read_only) && !(await rt.tasks.handlerFeatures(sandbox.runtimeHandler)).recursiveReadOnlyMounts) {
    throw new InvalidArgumentError(`recursive read-only mounts are not supported by runtime handler "${sandbox.runtimeHandler}" on this host (needs rro in its features and Linux 5.12)`);
  }

  const id = newId();
  const logPath = podConfig.log_directory && config.log_path ? join(podConfig.log_directory, config.log_path) : '';
  const record: ContainerRecord = {
    id,
    sandboxId: sandbox.id,
    name,
    config,
    imageId: image.id,
    imageRef: image.repoDigests[0] ?? image.repoTags[0] ?? image.id,
    state: 'created',
    pid: 0,
    createdAt: nowNanos(),
    startedAt: 0n,
    finishedAt: 0n,
    exitCode: 0,
    reason: '',
    message: '',
    logPath,
    extra: {},
  };
  try {
    rt.containers.insert(record);
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new AlreadyExistsError(`container name "${name}" is being created`);
    throw err;
  }
  const undo: (() => Promise<void> | void)[] = [() => rt.containers.delete(id)];
  try {
    return await rt.locks.run(id, async () => {
      const chain = chainIds(imageConfig.rootfs.diff_ids);
      const imageTop = chain[chain.length - 1];
      const mounts = await rt.snapshots.prepare(id, imageTop, { 'berth.io/container': id });
      undo.push(() => rt.snapshots.remove(id));
      // The directory holds the image mounts: it goes only once they are all unmounted.
      undo.push(async () => {
        await releaseImageMounts(rt, id, imageMountViewKeys(id, config.mounts));
        await rm(rt.containerDir(id), { recursive: true, force: true });
      });
      const criMounts = await mountImages(ctx, id, config.mounts);
      const sc = config.linux?.security_context ?? null;
      // The new snapshot's upper directory is empty: these are the image's files.
      const { passwd, group } = await rt.userFiles.get(imageTop, rt.snapshots.layerDirs(id));
      const user = resolveUser({
        criUser: {
          ...(sc?.run_as_user ? { uid: Number(sc.run_as_user.value) } : {}),
          ...(sc?.run_as_username ? { username: sc.run_as_username } : {}),
          ...(sc?.run_as_group ? { gid: Number(sc.run_as_group.value) } : {}),
        },
        imageUser: imageConfig.config.User ?? '',
        passwd,
        group,
        supplementalGroups: (sc?.supplemental_groups ?? []).map(Number),
        policy: sc?.supplemental_groups_policy === 'Strict' ? 'Strict' : 'Merge',
      });
      const imageVolumes = ctx.config.ignore_image_defined_volume
        ? []
        : imageVolumeBinds(imageConfig.config.Volumes, config.mounts, join(rt.containerDir(id), 'volumes'));
      const podSc = podConfig.linux?.security_context;
      const hostIpc = podSc?.namespace_options?.ipc === 'NODE';
      let targetPid: number | undefined;
      const targetId = sc?.namespace_options?.target_id;
      if (sc?.namespace_options?.pid === 'TARGET' && targetId) {
        const target = lookupById(rt.containers, targetId, 'target container');
        targetPid = target.pid;
      }
      const spec = buildContainerSpec({
        id,
        config: { ...config, mounts: criMounts },
        sandboxConfig: podConfig,
        imageConfig,
        imageName: config.image!.image,
        user,
        rootfsPath: 'rootfs',
        sandbox: {
          id: sandbox.id,
          pid: sandbox.pid,
          ...(sandbox.netnsPath ? { netnsPath: sandbox.netnsPath } : {}),
          files: podFilesPaths(rt.podDir(sandbox.id), rt.podRunDir(sandbox.id), hostIpc),
        },
        host: rt.host,
        ...(targetPid !== undefined ? { targetPid } : {}),
        devices: await requestedDevices(config),
        ...(privileged ? { hostDevices: await allHostDevices() } : {}),
        ...(localhostSeccompProfile ? { localhostSeccompProfile } : {}),
        imageVolumes,
      });
      const { pid } = await rt.tasks.create({
        id,
        handler: sandbox.runtimeHandler,
        spec: spec as unknown as Record<string, unknown>,
        rootfs: mounts,
        ...(imageVolumes.length > 0 ? { prepareRootfs: (rootfs: string) => populateImageVolumes(rootfs, imageVolumes) } : {}),
        logPath: logPath || join(rt.podRunDir(sandbox.id), `${id}.log`),
        terminal: config.tty,
        stdin: config.stdin,
        stdinOnce: config.stdin_once,
      });
      // The identity the process starts with, reported back in ContainerStatus.user.
      const startUser = { uid: user.uid, gid: user.gid, supplementalGroups: [...user.additionalGids] };
      rt.containers.update(id, (r) => ({ ...r, pid, extra: { ...r.extra, stopSignal: spec.annotations?.['berth.io/stop-signal'] ?? '', user: startUser } }));
      ctx.logger.info('container created', { id, name, sandbox: sandbox.id });
      publishContainerEvent(ctx, ctx.events, id, 'CONTAINER_CREATED_EVENT');
      return { container_id: id };
    });
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (cleanupErr) {
        ctx.logger.warn('cleanup after a failed CreateContainer', { id, error: (cleanupErr as Error).message });
      }
    }
    throw err;
  }
}
